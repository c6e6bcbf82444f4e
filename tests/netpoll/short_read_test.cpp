// A short read means drained: after a read that got fewer bytes than it asked for, a
// transfer waits for the next edge instead of reading again (netpoll/splice.cpp,
// copy_chunk). Nothing may be lost that way: bytes that arrive right after the short read,
// a FIN taken with the last bytes, an end of stream behind more than one buffer of data,
// a reset, and urgent data (a read stops at the urgent mark with bytes still queued).
//
// Each case queues everything at the source first and waits until the poller has
// dispatched the events of what was queued (the PollDesc's hangup bit, where there is
// one), so that the transfer's first read is the short one and no later edge will come:
// the interleaving in which a transfer that trusted that short read would wait forever.
// A read deadline bounds that wait, so such a bug fails the test instead of hanging it.
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "netpoll/netpoll.h"
#include "netpoll/splice.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/netpoll/helpers.h"

using namespace std::chrono_literals;
using namespace parkway;

namespace {

using test::connect_pair;
using test::Pair;

// Polls `cond` every millisecond for up to 10 s; whether it held.
bool await(const std::function<bool()>& cond) {
  const Time until = now() + 10s;
  while (!cond()) {
    if (now() >= until) return false;
    sleep_for(1ms);
  }
  return true;
}

int sysfd(net::Conn& c) {
  return c.fd().with_fd([](int fd) { return fd; });
}

// Bytes queued for reading at `c` (SIOCINQ), and its TCP state.
int queued(net::Conn& c) {
  int n = 0;
  return ioctl(sysfd(c), SIOCINQ, &n) == 0 ? n : -1;
}
// Bytes sent from `c` that the peer has not acknowledged yet (SIOCOUTQ): 0 once all of
// them are queued at the peer.
int unacked(net::Conn& c) {
  int n = 0;
  return ioctl(sysfd(c), SIOCOUTQ, &n) == 0 ? n : -1;
}
int tcp_state(net::Conn& c) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(sysfd(c), IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_state : -1;
}

// Reads from `c` until end of stream, an error or the deadline.
struct ReadAll {
  std::string bytes;
  std::error_code error;  // empty at end of stream
};
ReadAll read_all(net::Conn& c, Time deadline) {
  ReadAll out;
  c.set_read_deadline(deadline);
  std::array<std::byte, 4096> buf;
  for (;;) {
    auto r = c.read(buf);
    if (r.error) {
      out.error = r.error;
      return out;
    }
    if (r.bytes == 0) return out;
    out.bytes.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
  }
}

// Reads from `c` until it has `n` bytes, the stream ends, an error or the deadline.
std::string read_up_to(net::Conn& c, size_t n, Time deadline) {
  std::string got;
  c.set_read_deadline(deadline);
  std::array<std::byte, 64> buf;
  while (got.size() < n) {
    auto r = c.read(buf);
    if (!r.ok() || r.bytes == 0) break;
    got.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
  }
  return got;
}

void send_raw(net::Conn& c, const std::string& s, int flags = 0) {
  REQUIRE(::send(sysfd(c), s.data(), s.size(), flags | MSG_NOSIGNAL) ==
          static_cast<ssize_t>(s.size()));
}

// src.client (queued data) -> [src.server -splice-> dst.client] -> dst.server. The
// transfer runs with a read deadline of 5 s on its source: a transfer that waits for an
// edge that never comes ends with a timeout.
struct Outcome {
  net::SpliceResult result;
  ReadAll received;
};
Outcome transfer(Pair& src, Pair& dst, net::SpliceMode mode = net::SpliceMode::automatic) {
  Outcome out;
  src.server.set_read_deadline(now() + 5s);
  Notification finished;
  go([&] {
    out.result = net::splice(dst.client.fd(), src.server.fd(), nullptr, mode);
    dst.client.shutdown_write();  // what the proxy does at the end of a direction
    finished.notify();
  });
  out.received = read_all(dst.server, now() + 10s);
  REQUIRE(finished.wait_for(10s));
  return out;
}

}  // namespace

TEST_CASE("short read: a FIN taken with the last bytes still ends the transfer", "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    // Less than a buffer (the short read takes the FIN with it: 40000 bytes too, in one
    // read, which is more than a small chunk), and, copying, more than one buffer (the end
    // of stream is behind a full read, then a short one).
    struct Case {
      size_t size;
      net::SpliceMode mode;
    };
    for (const Case c :
         {Case{3, net::SpliceMode::automatic}, Case{1000, net::SpliceMode::automatic},
          Case{40000, net::SpliceMode::automatic}, Case{3, net::SpliceMode::copy_only},
          Case{70000, net::SpliceMode::copy_only}}) {
      const size_t size = c.size;
      INFO(size << " bytes, then FIN; copy only: " << (c.mode == net::SpliceMode::copy_only));
      Pair src = connect_pair(ln);
      Pair dst = connect_pair(ln);
      // Room for all of it at the source whatever the kernel's default (tcp_rmem).
      const int room = 1 << 20;
      REQUIRE(setsockopt(sysfd(src.server), SOL_SOCKET, SO_RCVBUF, &room, sizeof room) == 0);
      std::string data(size, 'x');
      for (size_t i = 0; i < size; i++) data[i] = static_cast<char>('a' + i % 26);
      // From a goroutine: should the source's buffers not take it all, the await below
      // fails instead of the test hanging.
      WaitGroup written;
      written.add(1);
      std::error_code write_error, shutdown_error;
      go([&] {
        write_error = src.client.write_all(std::as_bytes(std::span(data))).error;
        shutdown_error = src.client.shutdown_write();
        written.done();
      });
      // The FIN is in, every byte queued, and the poller has seen the hangup.
      REQUIRE(await([&] { return tcp_state(src.server) == TCP_CLOSE_WAIT; }));
      REQUIRE(await([&] { return queued(src.server) == static_cast<int>(size); }));
      REQUIRE(await([&] { return src.server.fd().hung_up(); }));
      written.wait();
      REQUIRE_FALSE(write_error);
      REQUIRE_FALSE(shutdown_error);
      Outcome o = transfer(src, dst, c.mode);
      INFO(o.result.error.message());
      CHECK(o.result.end == net::TransferEnd::eof);
      CHECK(o.result.bytes == size);
      CHECK_FALSE(o.received.error);
      CHECK(o.received.bytes == data);
    }
  });
}

TEST_CASE("short read: a reset behind the last bytes ends the transfer as a reset", "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair src = connect_pair(ln);
    Pair dst = connect_pair(ln);
    send_raw(src.client, "abc");
    REQUIRE(await([&] { return queued(src.server) == 3; }));
    // Close with SO_LINGER 0: a RST.
    const linger lg{1, 0};
    REQUIRE(setsockopt(sysfd(src.client), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    src.client.close();
    REQUIRE(await([&] { return tcp_state(src.server) == TCP_CLOSE; }));
    REQUIRE(await([&] { return src.server.fd().hung_up(); }));
    Outcome o = transfer(src, dst);
    INFO(o.result.error.message());
    CHECK(o.result.end == net::TransferEnd::read_error);
    CHECK(net::is_reset(o.result.error));  // not a timeout: it did not wait for an edge
    CHECK(o.result.bytes <= 3);            // what was queued before the reset, if kept
    CHECK(o.received.bytes == std::string("abc").substr(0, o.result.bytes));
  });
}

TEST_CASE("short read: urgent data does not stall the bytes behind it", "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair src = connect_pair(ln);
    Pair dst = connect_pair(ln);
    // "!" is urgent (MSG_OOB marks the last byte of the send): a read stops before it
    // with "abc", although "def" is queued behind it.
    send_raw(src.client, "abc!", MSG_OOB);
    send_raw(src.client, "def");
    // (SIOCINQ counts only up to the urgent mark: the sender's side says all is there.)
    REQUIRE(await([&] { return unacked(src.client) == 0; }));
    REQUIRE(await([&] { return src.server.fd().hung_up(); }));  // EPOLLPRI seen
    Notification finished;
    net::SpliceResult result;
    src.server.set_read_deadline(now() + 20s);
    go([&] {
      result = net::splice(dst.client.fd(), src.server.fd());
      finished.notify();
    });
    // The urgent byte itself is not part of the stream a read returns (no SO_OOBINLINE):
    // it is not forwarded. Every byte around it is, without waiting for more data.
    const std::string got = read_up_to(dst.server, 6, now() + 5s);
    CHECK(got == "abcdef");
    REQUIRE_FALSE(src.client.shutdown_write());
    REQUIRE(finished.wait_for(10s));
    CHECK(result.end == net::TransferEnd::eof);
  });
}

TEST_CASE("short read: bytes that arrive right after a short read are not left waiting",
          "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair src = connect_pair(ln);
    Pair dst = connect_pair(ln);
    Notification finished;
    net::SpliceResult result;
    go([&] {
      result = net::splice(dst.client.fd(), src.server.fd());
      finished.notify();
    });
    // Bursts of 1..8 small messages sent back to back (each a short read, or part of
    // one), the whole burst echoed before the next: every edge after a short read must
    // wake the transfer. A lost one leaves the reader waiting: its deadline fails it.
    uint64_t pos = 0;
    std::vector<std::byte> msg(4096), got(4096 * 8);
    for (int round = 0; round < 2000; round++) {
      const int burst = 1 + round % 8;
      size_t total = 0;
      for (int i = 0; i < burst; i++) {
        const size_t len = 1 + (static_cast<size_t>(round) * 131 + i * 17) % 700;
        test::fill_stream(3, pos + total, std::span(msg.data(), len));
        REQUIRE_FALSE(src.client.write_all(std::span(msg.data(), len)).error);
        total += len;
      }
      dst.server.set_read_deadline(now() + 5s);
      size_t n = 0;
      while (n < total) {
        auto r = dst.server.read(std::span(got.data() + n, total - n));
        INFO("round " << round << ": " << n << " of " << total << " bytes");
        REQUIRE(r.ok());
        REQUIRE(r.bytes > 0);
        n += r.bytes;
      }
      REQUIRE(test::count_mismatches(3, pos, std::span(got.data(), total)) == 0);
      pos += total;
    }
    REQUIRE_FALSE(src.client.shutdown_write());
    REQUIRE(finished.wait_for(10s));
    CHECK(result.end == net::TransferEnd::eof);
    CHECK(result.bytes == pos);
  });
}

TEST_CASE("the hangup bit: set by an event, never cleared by a later one, gone at reopen",
          "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    CHECK(ln.fd().tcp());
    Pair p = connect_pair(ln);
    CHECK(p.client.fd().tcp());  // dialled
    CHECK(p.server.fd().tcp());  // accepted from a TCP listener
    net::PollDesc* pd = p.server.fd().poll_desc();
    const uint32_t seq = pd->fdseq.load() & net::PollDesc::kSeqMask;
    sched::GList ready;
    CHECK(p.server.fd().short_read_drains());
    // An event of another registration (stale) does not set it.
    pd->on_event(true, false, false, true, seq + 1, &ready);
    CHECK_FALSE(p.server.fd().hung_up());
    // A hangup event sets it; a later plain readiness event (an older one, applied late by
    // another poller) leaves it set.
    pd->on_event(true, false, false, true, seq, &ready);
    CHECK(p.server.fd().hung_up());
    pd->on_event(true, true, false, false, seq, &ready);
    CHECK(p.server.fd().hung_up());
    CHECK_FALSE(p.server.fd().short_read_drains());
    CHECK(ready.empty());  // nobody was waiting
    // Closed and reused (the free list is LIFO): the next FD starts without it.
    p.server.close();
    Pair q = connect_pair(ln);
    const bool reused = q.server.fd().poll_desc() == pd || q.client.fd().poll_desc() == pd;
    CHECK(reused);
    CHECK_FALSE(q.server.fd().hung_up());
    CHECK_FALSE(q.client.fd().hung_up());
  });
}

TEST_CASE(
    "short read: a Unix-domain source reads to EAGAIN (a message with descriptors ends "
    "a read early)",
    "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    auto src = net::FD::open(sv[0]);
    REQUIRE(src);
    CHECK_FALSE((*src)->tcp());
    CHECK_FALSE((*src)->short_read_drains());
    // "xy", then "a" with a descriptor attached, then "bcd": a read returns "xya" and stops
    // there, with "bcd" queued and no edge to come.
    auto send_msg = [&](const std::string& s, int pass_fd) {
      iovec iov{const_cast<char*>(s.data()), s.size()};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
      if (pass_fd >= 0) {
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
      }
      return sendmsg(sv[1], &m, MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
    };
    REQUIRE(send_msg("xy", -1));
    REQUIRE(send_msg("a", sv[1]));
    REQUIRE(send_msg("bcd", -1));
    net::Listener ln = test::listen_local();
    Pair dst = connect_pair(ln);
    (*src)->set_read_deadline(now() + 5s);
    Notification finished;
    net::SpliceResult result;
    go([&] {
      result = net::splice(dst.client.fd(), **src);
      finished.notify();
    });
    const std::string got = read_up_to(dst.server, 6, now() + 5s);
    CHECK(got == "xyabcd");
    ::shutdown(sv[1], SHUT_WR);
    REQUIRE(finished.wait_for(10s));
    CHECK(result.end == net::TransferEnd::eof);
    ::close(sv[1]);
  });
}
