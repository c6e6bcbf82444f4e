// splice: a gigabyte intact, the copy fallback, half-close at end of stream, and no pipe
// or buffer held by an idle transfer.
#include "netpoll/splice.h"

#include <catch2/catch.hpp>

#include "netpoll/netpoll.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/go_check.h"

using namespace std::chrono_literals;
using namespace parkway;

namespace {

using test::connect_pair;
using test::Pair;

struct Counter final : net::TransferObserver {
  std::atomic<uint64_t> bytes{0};
  void on_transferred(size_t n) override { bytes += n; }
};

// sender -> [a.client -> a.server] -splice-> [b.client -> b.server] -> receiver
struct Relay {
  uint64_t sent = 0;
  test::Received received;
  net::SpliceResult result;
  uint64_t observed = 0;
};

Relay relay(uint64_t size, net::SpliceMode mode) {
  Relay out;
  net::Listener ln = test::listen_local();
  Pair a = connect_pair(ln);
  Pair b = connect_pair(ln);
  WaitGroup wg;
  wg.add(2);
  go([&] {
    out.sent = test::send_stream(a.client, 77, size, 256 * 1024).bytes;
    a.client.shutdown_write();
    wg.done();
  });
  go([&] {
    out.received = test::receive_stream(b.server, 77, 256 * 1024);
    wg.done();
  });
  Counter counter;
  out.result = net::splice(b.client.fd(), a.server.fd(), &counter, mode);
  out.observed = counter.bytes.load();
  b.client.shutdown_write();  // what the proxy does at end of stream
  wg.wait();
  return out;
}

}  // namespace

TEST_CASE("splice moves 1 GiB intact", "[splice]") {
#if defined(PARKWAY_ASAN) || defined(PARKWAY_TSAN)
  const uint64_t size = 256ull << 20;  // sanitizers check every byte the test touches
#else
  const uint64_t size = 1ull << 30;
#endif
  Runtime rt({.procs = 2});
  Relay r = rt.run([&] { return relay(size, net::SpliceMode::automatic); });
  CHECK(r.sent == size);
  CHECK(r.result.spliced);
  CHECK(r.result.end == net::TransferEnd::eof);
  CHECK_FALSE(r.result.error);
  CHECK(r.result.bytes == size);
  CHECK(r.observed == size);
  CHECK_FALSE(r.received.error);
  CHECK(r.received.bytes == size);
  CHECK(r.received.mismatches == 0);
}

TEST_CASE("the copy fallback moves a stream intact", "[splice]") {
  Runtime rt({.procs = 2});
  const uint64_t size = 64ull << 20;
  Relay r = rt.run([&] { return relay(size, net::SpliceMode::copy_only); });
  CHECK_FALSE(r.result.spliced);
  CHECK(r.result.end == net::TransferEnd::eof);
  CHECK(r.result.bytes == size);
  CHECK(r.received.bytes == size);
  CHECK(r.received.mismatches == 0);
}

TEST_CASE("an idle transfer holds no pipe, and a read timeout loses nothing", "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair a = connect_pair(ln);
    Pair b = connect_pair(ln);
    const auto before = net::pipe_pool_stats();
    Notification finished;
    net::SpliceResult result;
    a.server.set_read_deadline(now() + 300ms);
    go([&] {
      result = net::splice(b.client.fd(), a.server.fd());
      finished.notify();
    });
    // Some data, then silence.
    test::send_stream(a.client, 5, 100000);
    std::vector<std::byte> buf(100000);
    size_t got = 0;
    while (got < buf.size()) {
      auto r = b.server.read(std::span(buf.data() + got, buf.size() - got));
      REQUIRE(r.ok());
      REQUIRE(r.bytes > 0);
      got += r.bytes;
    }
    CHECK(test::count_mismatches(5, 0, buf) == 0);
    // Once it waits for more, it holds no pipe. (The bytes can reach the reader before
    // the transfer has handed its pipe back: wait, bounded, for it to do so.)
    const Time until = now() + 10s;
    while (net::pipe_pool_stats().in_use != before.in_use && now() < until) sleep_for(1ms);
    CHECK(net::pipe_pool_stats().in_use == before.in_use);
    REQUIRE(finished.wait_for(10s));
    CHECK(result.end == net::TransferEnd::read_error);
    CHECK(net::is_timeout(result.error));
    CHECK(result.bytes == 100000);
    CHECK(net::pipe_pool_stats().in_use == before.in_use);
  });
}

TEST_CASE("a write error ends the transfer and the pipe still holding data is discarded",
          "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair a = connect_pair(ln);
    Pair b = connect_pair(ln);
    const auto before = net::pipe_pool_stats();
    // The destination's reader resets the connection: writes fail with EPIPE/ECONNRESET.
    b.server.close_with_reset();
    Notification sender_done;
    go([&] {
      test::send_stream(a.client, 6, 8 << 20);
      sender_done.notify();
    });
    auto result = net::splice(b.client.fd(), a.server.fd());
    a.server.close();  // unread data: the sender's writes fail with a reset now
    REQUIRE(sender_done.wait_for(30s));
    CHECK(result.end == net::TransferEnd::write_error);
    CHECK(net::is_reset(result.error));
    auto after = net::pipe_pool_stats();
    CHECK(after.in_use == before.in_use);
    CHECK(after.discarded >= before.discarded);
  });
}

TEST_CASE("a write timeout keeps the bytes in flight for the next call: nothing is lost",
          "[splice]") {
  for (auto mode : {net::SpliceMode::automatic, net::SpliceMode::copy_only}) {
    INFO((mode == net::SpliceMode::automatic ? "splice" : "copy"));
    Runtime rt({.procs = 2});
    rt.run([&] {
      net::Listener ln = test::listen_local();
      Pair a = connect_pair(ln);
      Pair b = connect_pair(ln);
      const uint64_t size = 32ull << 20;  // far more than the socket buffers hold
      Notification sent;
      go([&] {
        test::send_stream(a.client, 11, size);
        a.client.shutdown_write();
        sent.notify();
      });
      // Nobody reads b.server yet: writes to b.client block, and time out.
      net::SpliceCarry carry;
      b.client.set_write_deadline(now() + 100ms);
      auto r = net::splice(b.client.fd(), a.server.fd(), nullptr, mode, &carry);
      CHECK(r.end == net::TransferEnd::write_error);
      CHECK(net::is_timeout(r.error));
      CHECK(carry.pending() > 0);
      uint64_t total = r.bytes;
      // Now read, and resume the transfer with the same carry.
      test::Received got;
      Notification received;
      go([&] {
        got = test::receive_stream(b.server, 11);
        received.notify();
      });
      b.client.set_write_deadline(kNoDeadline);
      r = net::splice(b.client.fd(), a.server.fd(), nullptr, mode, &carry);
      CHECK(r.end == net::TransferEnd::eof);
      CHECK(carry.pending() == 0);
      total += r.bytes;
      b.client.shutdown_write();
      REQUIRE(received.wait_for(30s));
      sent.wait();
      CHECK(total == size);
      CHECK(got.bytes == size);
      CHECK(got.mismatches == 0);
    });
  }
}

TEST_CASE("small messages are copied, a bulk stream is spliced, and a transfer switches",
          "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair a = connect_pair(ln);
    Pair b = connect_pair(ln);
    const auto before = net::pipe_pool_stats();
    Notification finished;
    net::SpliceResult result;
    go([&] {
      result = net::splice(b.client.fd(), a.server.fd());
      finished.notify();
    });
    // 200 messages of 64 bytes, each read at the far end before the next is sent: every
    // chunk is small, so every one is copied.
    std::array<std::byte, 64> msg{};
    std::array<std::byte, 64> got{};
    for (int i = 0; i < 200; i++) {
      msg.fill(static_cast<std::byte>(i));
      REQUIRE_FALSE(a.client.write_all(msg).error);
      size_t n = 0;
      while (n < got.size()) {
        auto r = b.server.read(std::span(got.data() + n, got.size() - n));
        REQUIRE(r.ok());
        REQUIRE(r.bytes > 0);
        n += r.bytes;
      }
      REQUIRE(got == msg);
    }
    // The transfer counts a chunk after its write returns, so the last one may reach the
    // reader before it is counted: wait (bounded) for the count, then check it.
    const Time counted_by = deadline_after(10s);
    while (net::pipe_pool_stats().copied_bytes - before.copied_bytes < 200 * 64 &&
           now() < counted_by) {
      sleep_for(1ms);
    }
    const auto small = net::pipe_pool_stats();
    CHECK(small.copied_bytes - before.copied_bytes >= 200 * 64);
    CHECK(small.spliced_bytes == before.spliced_bytes);

    // Then 64 MiB in bulk: after the first big chunk, it is spliced.
    const uint64_t size = 64ull << 20;
    test::Received received;
    WaitGroup wg;
    wg.add(1);
    go([&] {
      received = test::receive_stream(b.server, 9, 256 * 1024);
      wg.done();
    });
    CHECK(test::send_stream(a.client, 9, size, 256 * 1024).bytes == size);
    a.client.shutdown_write();
    REQUIRE(finished.wait_for(30s));
    b.client.shutdown_write();
    wg.wait();
    CHECK(received.bytes == size);
    CHECK(received.mismatches == 0);
    CHECK(result.end == net::TransferEnd::eof);
    CHECK(result.spliced);
    CHECK(result.bytes == 200 * 64 + size);
    const auto bulk = net::pipe_pool_stats();
    CHECK(bulk.spliced_bytes - small.spliced_bytes >= size / 2);
  });
}

TEST_CASE("past the pipe limit a bulk stream is copied, and pooled pipes beyond it are closed",
          "[splice]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair a = connect_pair(ln);
    Pair b = connect_pair(ln);
    net::set_pipe_limits(0, 0);
    const auto before = net::pipe_pool_stats();
    CHECK(before.pooled == 0);  // pooled pipes beyond the new limit went at once
    Notification finished;
    net::SpliceResult result;
    go([&] {
      result = net::splice(b.client.fd(), a.server.fd());
      finished.notify();
    });
    const uint64_t size = 16ull << 20;
    test::Received received;
    WaitGroup wg;
    wg.add(1);
    go([&] {
      received = test::receive_stream(b.server, 11, 256 * 1024);
      wg.done();
    });
    CHECK(test::send_stream(a.client, 11, size, 256 * 1024).bytes == size);
    a.client.shutdown_write();
    REQUIRE(finished.wait_for(30s));
    b.client.shutdown_write();
    wg.wait();
    CHECK(received.bytes == size);
    CHECK(received.mismatches == 0);
    CHECK(result.end == net::TransferEnd::eof);
    const auto after = net::pipe_pool_stats();
    CHECK(after.spliced_bytes == before.spliced_bytes);  // no pipe could be had
    CHECK(after.copied_bytes - before.copied_bytes == size);
    CHECK(after.created == before.created);
    net::set_pipe_limits(SIZE_MAX, 64);  // the defaults, for the tests after this one
  });
}
