// TCP sockets on the netpoller: echo at scale, half-close, refused and timed-out dials,
// socket activation, accept errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>

#include "netpoll/netpoll.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/go_check.h"

using namespace std::chrono_literals;
using namespace parkway;
using parkway::test::listen_local;

TEST_CASE("SocketAddress parses and prints IPv4 and IPv6", "[socket]") {
  auto a = net::SocketAddress::parse("127.0.0.1:8080");
  REQUIRE(a);
  CHECK(a->family() == AF_INET);
  CHECK(a->port() == 8080);
  CHECK(a->to_string() == "127.0.0.1:8080");
  auto b = net::SocketAddress::parse("[::1]:443");
  REQUIRE(b);
  CHECK(b->family() == AF_INET6);
  CHECK(b->to_string() == "[::1]:443");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "[::1]", "::1:80",
                          "localhost:80", "[::1]80", "1.2.3:4"}) {
    INFO(bad);
    CHECK_FALSE(net::SocketAddress::parse(bad));
  }
}

TEST_CASE("echo server: 1,000 concurrent connections with random sizes, checksummed", "[socket]") {
  Runtime rt({.procs = 2});
  std::atomic<int> ok{0}, bad{0};
  rt.run([&] {
    net::Listener ln = listen_local();
    const auto addr = test::address_of(ln);
    WaitGroup servers;
    go([&] {
      for (;;) {
        auto c = ln.accept();
        if (!c) break;  // closed at the end
        servers.add(1);
        go([&servers, conn = std::move(*c)]() mutable {
          std::vector<std::byte> buf(16 * 1024);
          for (;;) {
            auto r = conn.read(buf);
            if (r.error || r.bytes == 0) break;
            if (conn.write_all(std::span(buf.data(), r.bytes)).error) break;
          }
          conn.close();
          servers.done();
        });
      }
    });
    constexpr int kClients = 1000;
    WaitGroup clients;
    clients.add(kClients);
    for (int i = 0; i < kClients; i++) {
      go([&, i] {
        std::mt19937_64 rng(static_cast<uint64_t>(i));
        const uint64_t size = rng() % (256 * 1024);
        auto c = net::Conn::dial(addr, now() + 10s);
        if (!c) {
          bad++;
          clients.done();
          return;
        }
        net::Conn& conn = *c;
        // Write and read at once: echoing more than the socket buffers hold would
        // otherwise deadlock both sides.
        Notification sent;
        net::IoResult w;
        go([&] {
          w = test::send_stream(conn, static_cast<uint64_t>(i), size, 1 + rng() % 32768);
          conn.shutdown_write();
          sent.notify();
        });
        auto got = test::receive_stream(conn, static_cast<uint64_t>(i));
        sent.wait();
        if (!w.error && !got.error && got.bytes == size && got.mismatches == 0) {
          ok++;
        } else {
          bad++;
        }
        clients.done();
      });
    }
    clients.wait();
    ln.close();
    servers.wait();
  });
  CHECK(bad.load() == 0);
  CHECK(ok.load() == 1000);
}

TEST_CASE("half-close works in both directions", "[socket]") {
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  rt.run([&] {
    net::Listener ln = listen_local();
    const auto addr = test::address_of(ln);

    // Client sends, then shuts down writing, and still reads the whole reply.
    go([&] {
      auto c = ln.accept();
      GO_CHECK(checks, c.ok());
      if (!c) return;
      auto got = test::receive_stream(*c, 1);  // until the client's FIN
      GO_CHECK(checks, got.bytes == 100000);
      GO_CHECK(checks, got.mismatches == 0);
      GO_CHECK(checks, test::send_stream(*c, 2, 300000).ok());
      c->close();
    });
    auto c = net::Conn::dial(addr);
    REQUIRE(c);
    CHECK(test::send_stream(*c, 1, 100000).ok());
    CHECK_FALSE(c->shutdown_write());
    auto reply = test::receive_stream(*c, 2);
    CHECK(!reply.error);
    CHECK(reply.bytes == 300000);
    CHECK(reply.mismatches == 0);
    c->close();

    // Server speaks first and shuts down writing; the client answers after the EOF.
    Notification done;
    go([&] {
      auto s = ln.accept();
      GO_CHECK(checks, s.ok());
      if (s) {
        GO_CHECK(checks, test::send_stream(*s, 3, 5000).ok());
        GO_CHECK(checks, !s->shutdown_write());
        auto answer = test::receive_stream(*s, 4);
        GO_CHECK(checks, answer.bytes == 7000);
        GO_CHECK(checks, answer.mismatches == 0);
      }
      done.notify();
    });
    auto c2 = net::Conn::dial(addr);
    REQUIRE(c2);
    auto greeting = test::receive_stream(*c2, 3);
    CHECK(greeting.bytes == 5000);
    CHECK(greeting.mismatches == 0);
    CHECK(test::send_stream(*c2, 4, 7000).ok());
    c2->shutdown_write();
    done.wait();
  });
  checks.report();
}

TEST_CASE("dialing a closed port fails with refused", "[socket]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    net::SocketAddress addr;
    {
      net::Listener ln = listen_local();
      addr = test::address_of(ln);
    }  // closed: nothing listens there now
    auto c = net::Conn::dial(addr, now() + 5s);
    REQUIRE_FALSE(c);
    CHECK(net::is_refused(c.error()));
    CHECK_FALSE(net::is_timeout(c.error()));
  });
}

TEST_CASE("dial times out against a listener whose accept queue is full", "[socket]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    // backlog 1: the kernel queues two connections, then drops further SYNs, so a third
    // connect stays in SYN_SENT until our deadline.
    net::Listener ln = listen_local({.backlog = 1});
    const auto addr = test::address_of(ln);
    std::vector<net::Conn> queued;
    net::Result<net::Conn> last = net::Errc::closed;
    auto start = now();
    for (int i = 0; i < 16; i++) {
      start = now();
      last = net::Conn::dial(addr, now() + 300ms);
      if (!last) break;
      queued.push_back(std::move(*last));
    }
    REQUIRE_FALSE(last);
    CHECK(net::is_timeout(last.error()));
    auto took = now() - start;
    CHECK(took >= 300ms);
    CHECK(took < 10s);
    CHECK(queued.size() >= 1);
  });
}

namespace {

// A listener whose accept queue is full (backlog 1, never accepting): a new connect to
// it stays in SYN_SENT. `queued` keeps the connections that made it full.
net::Listener full_listener(std::vector<net::Conn>* queued) {
  net::Listener ln = listen_local({.backlog = 1});
  for (int i = 0; i < 16; i++) {
    auto c = net::Conn::dial(test::address_of(ln), deadline_after(1s));
    if (!c) break;  // timed out: the queue is full
    queued->push_back(std::move(*c));
  }
  return ln;
}

}  // namespace

TEST_CASE("start_dial and finish_dial connect in two steps", "[socket][dial]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = listen_local();
    auto c = net::Conn::start_dial(test::address_of(ln), deadline_after(10s));
    REQUIRE(c);
    auto s = ln.accept();
    REQUIRE(s);
    CHECK_FALSE(c->finish_dial());
    CHECK_FALSE(c->finish_dial());  // again: still connected, no error
    c->set_write_deadline(kNoDeadline);
    CHECK(c->write_all(std::as_bytes(std::span("d", 1))).ok());
    std::byte buf[1];
    CHECK(s->read(buf).bytes == 1);
  });
}

TEST_CASE("a connect in progress ends at once when another goroutine aborts it", "[socket][dial]") {
  // The connect would wait for its 10 s deadline (the listener drops SYNs); another
  // goroutine sets its write deadline into the past, or closes it, 50 ms in.
  for (const bool by_close : {false, true}) {
    INFO((by_close ? "closed" : "deadline set into the past"));
    Runtime rt({.procs = 2});
    rt.run([&] {
      std::vector<net::Conn> queued;
      net::Listener ln = full_listener(&queued);
      REQUIRE(queued.size() >= 1);
      auto c = net::Conn::start_dial(test::address_of(ln), deadline_after(10s));
      REQUIRE(c);
      Notification aborted;
      go([&] {
        sleep_for(50ms);
        if (by_close) {
          c->close();
        } else {
          c->set_write_deadline(now() - 1s);
        }
        aborted.notify();
      });
      const Time start = now();
      const std::error_code ec = c->finish_dial();
      const auto took = now() - start;
      aborted.wait();
      CHECK(took >= 50ms);
      CHECK(took < 5s);  // not its 10 s deadline
      if (by_close) {
        CHECK(net::is_closed(ec));
      } else {
        CHECK(net::is_timeout(ec));
      }
    });
  }
}

TEST_CASE("an abort made before finish_dial is not lost", "[socket][dial]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    std::vector<net::Conn> queued;
    net::Listener ln = full_listener(&queued);
    auto c = net::Conn::start_dial(test::address_of(ln), deadline_after(10s));
    REQUIRE(c);
    c->set_write_deadline(now() - 1s);  // the owner aborts before the dialer waits
    const Time start = now();
    CHECK(net::is_timeout(c->finish_dial()));
    CHECK(now() - start < 5s);
  });
}

TEST_CASE("closing a listener wakes a goroutine parked in accept", "[socket]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = listen_local();
    Notification accepted;
    std::error_code err;
    go([&] {
      auto c = ln.accept();
      err = c.error();
      accepted.notify();
    });
    sleep_for(5ms);  // not for correctness: the accept may or may not have parked yet
    ln.close();
    REQUIRE(accepted.wait_for(10s));
    CHECK(net::is_closed(err));
  });
}

TEST_CASE("an inherited listening socket is adopted (socket activation)", "[socket]") {
  // What systemd hands over: a blocking, inheritable listening socket.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  REQUIRE(listen(s, 16) == 0);
  int not_listening = socket(AF_INET, SOCK_STREAM, 0);

  Runtime rt({.procs = 1});
  rt.run([&] {
    auto bad = net::Listener::adopt(not_listening);
    CHECK(bad.error() == std::errc::invalid_argument);
    auto ln = net::Listener::adopt(s);
    REQUIRE(ln);
    const auto addr = *ln->local_address();
    go([&] {
      auto c = net::Conn::dial(addr);
      if (c) c->write_all(std::as_bytes(std::span("hi", 2)));
    });
    auto c = ln->accept();
    REQUIRE(c);
    std::byte buf[2];
    CHECK(c->read(buf).bytes >= 1);
  });
  close(not_listening);
}

TEST_CASE("socket options and addresses", "[socket]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    net::Listener ln = listen_local({.reuse_port = true});
    const auto addr = test::address_of(ln);
    CHECK(addr.port() != 0);
    go([&] { auto c = ln.accept(); });
    auto c = net::Conn::dial(addr);
    REQUIRE(c);
    CHECK_FALSE(c->set_nodelay(true));
    CHECK_FALSE(c->set_keepalive(true, 30s, 5s, 3));
    CHECK(c->peer_address()->to_string() == addr.to_string());
    CHECK(c->local_address()->ip_string() == "127.0.0.1");
    c->close();
    CHECK(net::is_closed(c->set_nodelay(true)));
    std::byte b[1];
    CHECK(net::is_closed(c->read(b).error));
    CHECK(net::is_closed(c->close()));
  });
}

TEST_CASE("IPv6 loopback works when available", "[socket]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    auto ln = net::Listener::listen(*net::SocketAddress::parse("[::1]:0"));
    if (!ln) {
      WARN("no IPv6 loopback here: " << ln.error().message());
      return;
    }
    const auto addr = *ln->local_address();
    go([&] {
      auto c = net::Conn::dial(addr);
      if (c) test::send_stream(*c, 9, 10000);
    });
    auto c = ln->accept();
    REQUIRE(c);
    auto got = test::receive_stream(*c, 9);
    CHECK(got.bytes == 10000);
    CHECK(got.mismatches == 0);
  });
}

TEST_CASE("equal IPv6 addresses compare equal, whatever was on the stack", "[address]") {
  // Dirty the stack where the addresses will be made, then make them.
  auto make = [](uint8_t fill) {
    volatile uint8_t junk[512];
    for (auto& b : junk) b = fill;
    return *net::SocketAddress::parse("[2001:db8::1]:443");
  };
  const net::SocketAddress a = make(0xAA);
  const net::SocketAddress b = make(0x55);
  CHECK(a == b);
  const uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  CHECK(net::SocketAddress::ipv6(bytes, 443) == a);
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
  CHECK(sin6->sin6_scope_id == 0);
  CHECK(sin6->sin6_flowinfo == 0);
}
