// Case 10: out of file descriptors.
//
// At the limit it was started with, parkway never runs out: its descriptor budget
// (proxy/descriptor_budget.h) stops the accept loops while every connection still has
// its upstream socket to be had. The first test is the load that once broke that (260
// churning clients under RLIMIT_NOFILE 128: 271 resets): every client is served.
//
// The second runs parkway out of descriptors anyway, the way a budget cannot foresee: its
// limit is lowered to 64 while it runs (prlimit), and clients hold connections until it
// has none left. Then:
//   - it stops accepting: the next client waits in the kernel's backlog; it is never
//     accepted only to be closed (which would pass for an empty stream);
//   - the connections it holds keep working, all at once (splice pipes need descriptors
//     of their own: without them the bytes go through a buffer);
//   - it uses little CPU while it waits, and says so in the log at most once a second;
//   - it counts the condition (parkway_listener_accept_resource_errors_total) and the
//     admin endpoint answers, from a descriptor it keeps in reserve for that;
//   - as soon as descriptors free up, the waiting client is served.
#include <sys/resource.h>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

// Lowers (or raises) the descriptor limit of a running process, soft and hard.
bool set_nofile(pid_t pid, unsigned long n) {
  const rlimit lim{n, n};
  return prlimit(pid, RLIMIT_NOFILE, &lim, nullptr) == 0;
}

}  // namespace

TEST_CASE(
    "case 10: under RLIMIT_NOFILE 128, 260 clients churning at once are all served: none is "
    "accepted and then turned away",
    "[reliability][fd_limit]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    PeerServer server([&](Peer& p, int) { echo(p.conn()); });
    SpawnOptions options;
    options.rlimit_nofile = 128;
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") + cluster_toml("app", {server.endpoint()}),
        {}, options);
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    const Baseline base = baseline_of(*proxy);
    // Each client: connect, 64 bytes each way, close; again and again.
    constexpr int kClients = 260, kRounds = 4;
    std::atomic<int> served{0};
    Mutex mu;
    std::vector<std::string> failures;
    WaitGroup clients;
    clients.add(kClients);
    for (int i = 0; i < kClients; i++) {
      go([&] {
        const std::string message(64, 'm');
        for (int r = 0; r < kRounds; r++) {
          auto c = net::Conn::dial(addr, now() + scaled(60s));
          std::string why;
          if (!c) {
            why = "connect: " + c.error().message();
          } else if (!echoes(*c, message, now() + scaled(60s))) {
            why = "no echo: " + describe(read_to_end(*c, now() + 1s).error);
          }
          if (why.empty()) {
            served++;
          } else {
            std::lock_guard<Mutex> g(mu);
            if (failures.size() < 10) failures.push_back(why);
          }
        }
        clients.done();
      });
    }
    clients.wait();
    std::string report;
    for (const auto& f : failures) report += f + "\n";
    INFO(report << log_of(*proxy).substr(0, 4000));
    CHECK(served.load() == kClients * kRounds);
    const auto m = observe::http_get(admin, "/metrics", scaled(5s));
    REQUIRE(m.status == 200);
    INFO(m.body);
    // The budget is what held clients back (in the backlog), not a shortage at accept or
    // at dial.
    CHECK(observe::metric(m.body, R"(parkway_descriptor_budget{share="limit"})") == 128);
    CHECK(
        observe::metric(m.body, R"(parkway_listener_descriptor_budget_waits_total{listener="app"})")
            .value_or(0) > 0);
    CHECK(observe::metric(m.body,
                          R"(parkway_listener_accept_resource_errors_total{listener="app"})") == 0);
    CHECK(observe::metric(m.body, closed_series("app", "connect_failed")) == 0);
    CHECK(await_metric(admin, closed_series("app", "client_eof"), kClients * kRounds) ==
          kClients * kRounds);
    CHECK(proxy->find_all("cannot connect|no descriptor").empty());
    CHECK(not_idle(*proxy, base, admin) == "");
  });
}

TEST_CASE(
    "case 10: out of descriptors (its limit lowered while it runs), parkway stops accepting, "
    "keeps serving what it holds, idles, logs and counts it, answers on the admin endpoint, "
    "and recovers",
    "[reliability][fd_limit]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr unsigned long kLimit = 64;
  rt.run([&] {
    PeerServer server([&](Peer& p, int) { echo(p.conn()); });
    // A connection accepted with one descriptor left waits for a second one (for its
    // upstream socket) within connect_timeout: long enough for the whole test.
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("app", "app") +
                 cluster_toml("app", {server.endpoint()}, "connect_timeout = \"60s\"\n"));
    const auto admin = admin_address(*proxy);
    // Its budget was shared out for the limit it started with: far more than 64.
    REQUIRE(set_nofile(proxy->pid(), kLimit));
    const auto addr = loopback(proxy->port_of("app"));
    const Baseline base = baseline_of(*proxy);
    INFO("idle: " << observe::fd_summary(proxy->pid()));
    REQUIRE(base.fds.total() < 24);

    // Hold connections, each proven to work end to end, until one is not served.
    std::vector<net::Conn> held;
    std::optional<net::Conn> waiting;
    for (unsigned long i = 0; i < kLimit && !waiting; i++) {
      auto c = net::Conn::dial(addr, now() + scaled(5s));
      REQUIRE(c);  // the kernel completes the handshake into the backlog regardless
      REQUIRE_FALSE(c->write_all(bytes_of("x")).error);
      auto r = read_exactly(*c, 1, now() + scaled(1s));
      INFO("connection " << i << ": " << describe(r.error) << "\n" << log_of(*proxy));
      if (r.data == "x") {
        held.push_back(std::move(*c));
      } else {
        // Not served: it must be waiting (to be accepted, or for a descriptor for its
        // upstream), not closed.
        REQUIRE(net::is_timeout(r.error));
        waiting = std::move(*c);
      }
    }
    REQUIRE(waiting);
    INFO(held.size() << " connections held; parkway: " << observe::fd_summary(proxy->pid()));
    CHECK(held.size() >= 15);
    await_log(
        *proxy,
        R"(warn  listener "app": accept: Too many open files; [0-9]+ connections open; pausing accepts for [0-9]+ms)");

    // Every held connection sends 8 MiB at once and reads the echo only once all have
    // sent (or after a while): meanwhile parkway's pump toward each client is parked with
    // bytes in flight, which takes a splice pipe (two descriptors) per connection, and
    // there are none. Every byte must still come back, in order.
    {
      constexpr uint64_t kEach = 8 << 20;  // more than the socket buffers on the way hold
      WaitGroup senders, readers;
      Notification start_reading;
      std::atomic<int> exact{0};
      senders.add(static_cast<int64_t>(held.size()));
      readers.add(static_cast<int64_t>(held.size()));
      for (size_t i = 0; i < held.size(); i++) {
        go([&, i] {
          held[i].set_write_deadline(now() + scaled(60s));
          GO_CHECK(checks, test::send_stream(held[i], 100 + i, kEach).ok());
          held[i].set_write_deadline(kNoDeadline);
          senders.done();
        });
        go([&, i] {
          net::Conn& c = held[i];
          start_reading.wait();
          std::vector<std::byte> buf(64 * 1024);
          uint64_t got = 0, bad = 0;
          c.set_read_deadline(now() + scaled(60s));
          while (got < kEach) {
            auto r = c.read(std::span(buf.data(), std::min<uint64_t>(buf.size(), kEach - got)));
            if (r.error || r.bytes == 0) break;
            bad += test::count_mismatches(100 + i, got, std::span(buf.data(), r.bytes));
            got += r.bytes;
          }
          c.set_read_deadline(kNoDeadline);
          if (got == kEach && bad == 0) exact++;
          readers.done();
        });
      }
      // All sent into the buffers, or some blocked because the buffers are full: either
      // way, the pumps toward the clients are parked holding bytes by now.
      senders.wait_until(now() + scaled(3s));
      start_reading.notify();
      REQUIRE(readers.wait_until(now() + scaled(90s)));
      senders.wait();
      INFO(log_of(*proxy));
      CHECK(exact.load() == static_cast<int>(held.size()));
      const auto m = observe::http_get(admin, "/metrics", scaled(5s));
      INFO(m.body);
      // Some of it went through a buffer: there were no descriptors for more pipes.
      CHECK(observe::metric(m.body, R"(parkway_transfer_bytes_total{mode="copied"})").value_or(0) >
            0);
    }

    // Waiting costs little CPU, and the log says so at most once a second.
    const size_t mark = proxy->mark();
    const double cpu0 = observe::cpu_seconds(proxy->pid());
    const Time t0 = now();
    sleep_for(3s);  // the measurement window: time itself is what is measured
    const double cpu = observe::cpu_seconds(proxy->pid()) - cpu0;
    const double window = std::chrono::duration<double>(now() - t0).count();
    // Each accept loop (the listener's, and the admin endpoint's when a client waits for
    // it) logs on its own, at most once a second.
    const auto lines = proxy->find_all("listener \"app\": accept: Too many open files", mark);
    const auto admin_lines = proxy->find_all("admin: accept: Too many open files", mark);
    INFO("CPU " << cpu << " s in " << window << " s; " << lines.size() << " + "
                << admin_lines.size() << " log lines");
    CHECK(cpu < 0.1 * window * time_scale());
    CHECK(lines.size() <= static_cast<size_t>(window) + 1);
    CHECK(admin_lines.size() <= static_cast<size_t>(window) + 1);

    // The admin endpoint answers at the limit, and counts the condition.
    const auto m = observe::http_get(admin, "/metrics", scaled(5s));
    INFO("GET /metrics at the limit: " << m.status << " " << m.error);
    CHECK(m.status == 200);
    if (m.status == 200) {
      CHECK(observe::metric(m.body,
                            R"(parkway_listener_accept_resource_errors_total{listener="app"})")
                .value_or(0) > 0);
    }
    // The waiting client is still waiting.
    auto early = read_exactly(*waiting, 1, now() + 200ms);
    CHECK(net::is_timeout(early.error));

    // Descriptors free up: the waiting client is served promptly (the listener backs off
    // for at most 1 s between tries).
    for (int i = 0; i < 3 && !held.empty(); i++) {
      held.back().close();
      held.pop_back();
    }
    const Time freed = now();
    auto late = read_exactly(*waiting, 1, now() + scaled(5s));
    const Duration served_after = now() - freed;
    INFO(describe(late.error) << "\n" << log_of(*proxy));
    CHECK(late.data == "x");
    CHECK(served_after < scaled(2s));
    // And a new client is served as well.
    auto fresh = dial_and_echo(addr, "fresh", scaled(5s));
    CHECK(fresh.has_value());

    // No client was ever accepted and then turned away.
    CHECK(proxy->find_all("cannot connect").empty());
    for (auto& c : held) c.close();
    waiting->close();
    if (fresh) fresh->close();
    CHECK(not_idle(*proxy, base) == "");
  });
  checks.report();
}
