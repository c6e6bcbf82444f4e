// Case 11: reload and drain under continuous traffic.
//
// tests/e2e/lifecycle_test.cpp proves a reload that adds and removes listeners with a
// prober that must never be refused, a bad reload that keeps everything, and a drain that
// lets one 100 MiB transfer finish. Here the traffic is many concurrent checksummed
// streams in both directions, never pausing, through a dozen reloads that replace the
// cluster (new endpoints, new settings) and add and remove a listener: not one connection
// may fail and not one byte may differ. Then SIGTERM with many streams in flight: every
// one of them completes exactly, new clients are refused, and parkway exits 0.
#include <cstring>
#include <random>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

struct Header {
  uint64_t seed, up, down;
  uint64_t pace_us;  // the client sends a 64 KiB chunk every pace_us (0: as fast as it can)
};
constexpr uint64_t kDownKey = 0xabcdef0123456789ULL;

// A backend for Header-led streams: reads the client's stream while sending its own.
void serve(Peer& p, std::atomic<int>& bad) {
  p.step_timeout = scaled(120s);
  auto raw = p.recv_raw(sizeof(Header));
  if (!raw) {
    bad++;
    return;
  }
  Header h;
  std::memcpy(&h, raw->data(), sizeof h);
  p.set_streams(h.seed ^ kDownKey, h.seed);
  if (!Script().both(Script().send(h.down).shut_wr(), Script().drain_eof(h.up)).run(p)) bad++;
}

// One client stream through `addr`: true if it completed exactly.
bool stream_once(const net::SocketAddress& addr, const Header& h, std::string* why) {
  auto c = Peer::connect(addr, scaled(10s));
  if (!c) {
    *why = "connect: " + c.error().message();
    return false;
  }
  c->step_timeout = scaled(120s);
  c->set_streams(h.seed, h.seed ^ kDownKey);
  const auto pace = std::chrono::microseconds(h.pace_us);
  Script up;
  if (h.pace_us > 0) {
    up.send_slowly(h.up, 64 * 1024, pace);
  } else {
    up.send(h.up);
  }
  const bool ok = c->send_raw(std::as_bytes(std::span(&h, 1))) &&
                  Script().both(up.shut_wr(), Script().drain_eof(h.down)).run(*c);
  if (!ok) *why = c->failure();
  return ok;
}

std::string configs(int generation, const std::vector<std::string>& endpoints) {
  // Each generation changes the cluster (so a new one replaces it), moves its endpoints
  // around, and every other one has a second listener.
  std::vector<std::string> eps;
  for (size_t i = 0; i < endpoints.size(); i++) {
    if ((generation + static_cast<int>(i)) % 3 != 0 || eps.empty()) eps.push_back(endpoints[i]);
  }
  static const char* balances[] = {"round_robin", "least_connections", "power_of_two"};
  std::string toml = admin_toml() + listener_toml("app", "app");
  if (generation % 2 == 1) toml += listener_toml("extra", "app", "", "127.0.0.2:0");
  toml += cluster_toml("app", eps,
                       std::string("balance = \"") + balances[generation % 3] + "\"\n" +
                           "connect_timeout = \"" + std::to_string(2 + generation) + "s\"\n");
  return toml;
}

}  // namespace

TEST_CASE(
    "case 11: a dozen reloads under continuous traffic: no connection fails, no byte "
    "differs",
    "[reliability][reload]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    std::atomic<int> backend_bad{0};
    std::vector<std::unique_ptr<PeerServer>> backends;
    std::vector<std::string> endpoints;
    for (int i = 0; i < 3; i++) {
      backends.push_back(
          std::make_unique<PeerServer>([&](Peer& p, int) { serve(p, backend_bad); }));
      endpoints.push_back(backends.back()->endpoint());
    }
    auto proxy = start_proxy(dir, configs(0, endpoints));
    const auto addr = loopback(proxy->port_of("app"));

    constexpr int kWorkers = 24;
    std::atomic<bool> stop{false};
    std::atomic<int> completed{0}, failed{0};
    Mutex mu;
    std::vector<std::string> failures;
    WaitGroup workers;
    workers.add(kWorkers);
    for (int w = 0; w < kWorkers; w++) {
      go([&, w] {
        std::mt19937_64 rng(static_cast<uint64_t>(w) + 1000);
        for (uint64_t n = 0; !stop.load(); n++) {
          Header h{(static_cast<uint64_t>(w) << 32) + n + 1, rng() % (512 * 1024),
                   rng() % (512 * 1024), rng() % 2 ? 0u : 500u};
          std::string why;
          if (stream_once(addr, h, &why)) {
            completed++;
          } else {
            failed++;
            std::lock_guard<Mutex> g(mu);
            if (failures.size() < 10) failures.push_back(why);
          }
        }
        workers.done();
      });
    }

    constexpr int kReloads = 12;
    for (int gen = 1; gen <= kReloads; gen++) {
      const int before = completed.load();
      // Some streams complete between reloads, so that reloads land on traffic in every
      // state (connecting, mid-stream, half-closed).
      observe::eventually([&] { return completed.load() >= before + 20; }, scaled(30s));
      dir.write("parkway.toml", configs(gen, endpoints));
      const size_t mark = proxy->mark();
      proxy->signal(SIGHUP);
      await_log(*proxy, "reload: done", 10s, mark);
    }
    const int before = completed.load();
    observe::eventually([&] { return completed.load() >= before + 20; }, scaled(30s));
    stop.store(true);
    REQUIRE(workers.wait_until(now() + scaled(120s)));
    std::string list;
    for (const auto& f : failures) list += f + "\n";
    INFO(list << log_of(*proxy));
    CHECK(failed.load() == 0);
    CHECK(backend_bad.load() == 0);
    CHECK(completed.load() >= 20 * (kReloads + 1));
    CHECK(proxy->find_all("reload: done").size() == kReloads);
    CHECK(proxy->find_all("error").empty());
  });
}

TEST_CASE(
    "case 11: SIGTERM with 32 streams in flight: every one completes exactly, new "
    "clients are refused, then parkway exits 0",
    "[reliability][drain]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    std::atomic<int> backend_bad{0};
    PeerServer backend([&](Peer& p, int) { serve(p, backend_bad); });
    auto proxy =
        start_proxy(dir, "[runtime]\ndrain_timeout = \"120s\"\n" + listener_toml("app", "app") +
                             cluster_toml("app", {backend.endpoint()}));
    const auto addr = loopback(proxy->port_of("app"));
    constexpr int kStreams = 32;
    std::atomic<int> exact{0};
    Mutex mu;
    std::vector<std::string> failures;
    WaitGroup streams;
    streams.add(kStreams);
    for (int i = 0; i < kStreams; i++) {
      go([&, i] {
        // 4 MiB up at 64 KiB per 10 ms (about 0.6 s), 4 MiB down: in flight for a while.
        Header h{static_cast<uint64_t>(i) + 1, 4 << 20, 4 << 20, 10000};
        std::string why;
        if (stream_once(addr, h, &why)) {
          exact++;
        } else {
          std::lock_guard<Mutex> g(mu);
          failures.push_back("stream " + std::to_string(i) + ": " + why);
        }
        streams.done();
      });
    }
    // Every stream is connected through before the signal.
    REQUIRE(proxy->wait_for_log_count("connected in", kStreams, 20s).size() == kStreams);
    proxy->signal(SIGTERM);
    await_log(*proxy, R"(stopped accepting; waiting up to 120s for ([0-9]+) open connection\(s\))");
    auto late = net::Conn::dial(addr, now() + scaled(5s));
    CHECK_FALSE(late.ok());
    REQUIRE(streams.wait_until(now() + scaled(120s)));
    std::string list;
    for (const auto& f : failures) list += f + "\n";
    INFO(list << log_of(*proxy));
    CHECK(exact.load() == kStreams);
    CHECK(backend_bad.load() == 0);
    await_log(*proxy, "drained: exiting$", 20s);
    CHECK(proxy->wait_exit(20s) == 0);
    CHECK(proxy->find_all("drain timeout").empty());
  });
}
