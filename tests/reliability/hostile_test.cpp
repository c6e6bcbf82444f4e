// Case 14: what an adversarial pass found, against the real binary. Each of these once
// broke a promise (a bad config never takes down a running proxy; SIGTERM always stops
// it; no input makes it spin):
//
//   - a config whose check crashes or hangs (a parser bug on some input), reloaded: the
//     check runs in a child process, so the serving process is unaffected, and a stuck
//     check is killed and never delays a drain;
//   - a process whose goroutines never park (what a duration that wrapped into the past
//     once caused): a second SIGTERM, or the end of the drain, still ends it, from the
//     signal thread;
//   - every duration key at the largest value it accepts: "effectively never", not a
//     deadline wrapped into the past;
//   - a config of a hundred thousand errors: a bounded report, and a reload that does not
//     hold up a drain.
// The faults are injected with $PARKWAY_FAULT (proxy/server.cpp, proxy/main.cpp).
#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "conf/keys.h"
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;

namespace {

// The children of `pid` (from /proc/PID/task/*/children).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(task, ec)) {
    std::ifstream in(entry.path() / "children");
    pid_t child = 0;
    while (in >> child) out.push_back(child);
  }
  return out;
}

// Whether process `pid` is gone (or a zombie nobody has reaped yet).
bool gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return true;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("State:", 0) == 0) return line.find('Z') != std::string::npos;
  }
  return true;
}

std::string echo_config(const Backend& backend, const std::string& cluster_extra = "",
                        const std::string& head = "") {
  return head + admin_toml() + listener_toml("app", "app") +
         cluster_toml("app", {backend.endpoint()}, cluster_extra);
}

SpawnOptions with_fault(const std::string& fault) {
  SpawnOptions o;
  o.env = {"PARKWAY_FAULT=" + fault};
  return o;
}

}  // namespace

TEST_CASE("case 14: a config check that crashes leaves the running proxy serving",
          "[reliability][hostile]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, echo_config(backend), {}, with_fault("crash-check"));
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    auto open = dial_and_echo(addr, "before");
    REQUIRE(open);
    proxy->signal(SIGHUP);
    await_log(*proxy, R"(error reload: .*: the config check crashed \(SIGABRT\); this process is )"
                      R"(unaffected; keeping the running configuration$)");
    CHECK(await_metric(admin, R"(parkway_config_reloads_total{result="failure"})", 1) == 1);
    // The connection of before goes on, and new ones are served.
    CHECK(echoes(*open, "after", now() + scaled(5s)));
    CHECK(dial_and_echo(addr, "new").has_value());
    open->close();
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(scaled(10s)) == 0);
  });
}

TEST_CASE("case 14: a config check that hangs never delays a drain, and leaves no process",
          "[reliability][hostile]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    // "slow-reload": the reload's goroutine is still at work when the drain ends; the
    // process must wait for it, not free what it uses under it (it once did: a crash, or
    // an AddressSanitizer report, and a non-zero exit).
    auto proxy = start_proxy(dir, echo_config(backend), {}, with_fault("hang-check,slow-reload"));
    proxy->signal(SIGHUP);
    await_log(*proxy, "SIGHUP: reloading");
    std::vector<pid_t> checks;
    REQUIRE(observe::eventually([&] { return !(checks = children_of(proxy->pid())).empty(); },
                                scaled(10s)));
    // The check hangs; SIGTERM is taken at once all the same.
    const Time t0 = now();
    proxy->signal(SIGTERM);
    await_log(*proxy, "SIGTERM: draining", 5s);
    CHECK(proxy->wait_exit(scaled(10s)) == 0);
    CHECK(now() - t0 < scaled(5s));
    CHECK(proxy->find_all("reload: abandoned: exiting").size() == 1);
    // And the hung check did not outlive it.
    for (pid_t c : checks) {
      INFO("check process " << c);
      CHECK(observe::eventually([&] { return gone(c); }, scaled(5s)));
    }
  });
}

TEST_CASE("case 14: a config check that hangs is killed after 10 s, and the proxy serves on",
          "[reliability][hostile]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, echo_config(backend), {}, with_fault("hang-check"));
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    const Time t0 = now();
    proxy->signal(SIGHUP);
    await_log(
        *proxy,
        "error reload: .*: checking the config took longer than 10s .*; the check was killed; "
        "keeping the running configuration$",
        20s);
    CHECK(now() - t0 >= 9s);
    // Meanwhile and since, the proxy served.
    CHECK(dial_and_echo(addr, "served").has_value());
    CHECK(await_metric(admin, R"(parkway_config_reloads_total{result="failure"})", 1) == 1);
    CHECK(children_of(proxy->pid()).empty());
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(scaled(10s)) == 0);
  });
}

TEST_CASE("case 14: a second SIGTERM ends a process whose goroutines never park",
          "[reliability][hostile]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    TempDir logs;
    const std::string access = logs.path() + "/access.log";
    auto proxy = start_proxy(
        dir, echo_config(backend, "", "[access_log]\ndestination = \"" + access + "\"\n"), {},
        with_fault("spin"));
    auto open = dial_and_echo(loopback(proxy->port_of("app")), "open");
    REQUIRE(open);
    proxy->signal(SIGHUP);  // the fault's trigger
    await_log(*proxy, "PARKWAY_FAULT=spin: every P now runs a goroutine that never parks");
    proxy->signal(SIGTERM);  // goes nowhere: no goroutine reads it any more
    // (Signals of one kind coalesce until taken: wait until this one was.)
    await_log(*proxy, "signal thread: SIGTERM received");
    const Time t0 = now();
    proxy->signal(SIGTERM);
    const auto code = proxy->wait_exit(scaled(10s));
    INFO(log_of(*proxy));
    CHECK(code == 128 + SIGTERM);
    CHECK(now() - t0 < scaled(5s));
    CHECK(proxy->find_all("SIGTERM while draining: exiting now, resetting 1 open connection")
              .size() == 1);
    // The open connection was reset: the process is gone, its sockets with it.
    CHECK(!net::is_timeout(read_to_end(*open, now() + scaled(5s)).error));
  });
}

TEST_CASE("case 14: the end of the drain ends a process whose goroutines never park",
          "[reliability][hostile]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy =
        start_proxy(dir, echo_config(backend, "", "[runtime]\ndrain_timeout = \"200ms\"\n"), {},
                    with_fault("spin"));
    proxy->signal(SIGHUP);  // the fault's trigger
    await_log(*proxy, "PARKWAY_FAULT=spin: every P now runs a goroutine that never parks");
    const Time t0 = now();
    proxy->signal(SIGTERM);
    const auto code = proxy->wait_exit(scaled(20s));
    const Duration took = now() - t0;
    INFO(log_of(*proxy));
    CHECK(code == 1);
    CHECK(took >= 5s);  // drain_timeout + the 5 s of grace
    CHECK(took < scaled(10s));
    CHECK(proxy->find_all("still running 5s after the drain timeout: exiting now").size() == 1);
  });
}

TEST_CASE("case 14: every duration key at its largest value means effectively never",
          "[reliability][hostile]") {
  // The largest value of each duration key, from the key table (conf/keys.h).
  // (Sub-tables such as [cluster.health_check] go after the cluster's own keys.)
  std::string runtime = "[runtime]\n", cluster;
  std::map<std::string, std::string> sub_tables;
  for (const conf::KeyDoc& k : conf::key_docs()) {
    if (k.type != "duration") continue;
    const std::string at_most = k.accepted.substr(k.accepted.rfind("<= ") + 3);
    INFO(k.section << "." << k.name << " accepts " << k.accepted);
    REQUIRE(k.accepted.find("<= ") != std::string::npos);
    const std::string line = std::string(k.name) + " = \"" + at_most + "\"\n";
    if (k.section == "runtime") {
      runtime += line;
    } else if (k.section == "cluster") {
      cluster += line;
    } else {
      sub_tables[std::string(k.section)] += line;
    }
  }
  for (const auto& [table, lines] : sub_tables) cluster += "[" + table + "]\n" + lines;
  INFO(runtime << cluster);
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, echo_config(backend, cluster, runtime));
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    // A connection that echoes, then idles, then half-closes: no timeout fires, and no
    // goroutine spins on one that already "fired".
    auto c = dial_and_echo(addr, "echo");
    REQUIRE(c);
    const double cpu0 = observe::cpu_seconds(proxy->pid());
    const Time t0 = now();
    sleep_for(2s);  // the idle stretch is what is measured: nothing to await
    const double cpu = observe::cpu_seconds(proxy->pid()) - cpu0;
    const double window = std::chrono::duration<double>(now() - t0).count();
    INFO("CPU " << cpu << " s in " << window << " s");
    CHECK(cpu < 0.2 * window * time_scale());
    CHECK(echoes(*c, "still", now() + scaled(5s)));
    REQUIRE_FALSE(c->shutdown_write());
    auto end = read_to_end(*c, now() + scaled(5s));
    CHECK(describe(end.error) == "end of stream");
    CHECK(await_metric(admin, closed_series("app", "client_eof"), 1) == 1);
    // The admin endpoint and new clients are served throughout.
    CHECK(read_metric(admin, "parkway_ready") == 1);
    CHECK(dial_and_echo(addr, "new").has_value());
    // (That one closes as it goes out of scope: wait until the proxy has seen it end, so
    // that the drain below counts only the connection opened for it.)
    CHECK(await_metric(admin, closed_series("app", "client_eof"), 2) == 2);
    // A drain of up to a day: the second SIGTERM stops it.
    auto open = dial_and_echo(addr, "open");
    REQUIRE(open);
    proxy->signal(SIGTERM);
    await_log(*proxy, R"(stopped accepting; waiting up to 86400s for 1 open connection\(s\))");
    proxy->signal(SIGTERM);
    CHECK(proxy->wait_exit(scaled(10s)) == 128 + SIGTERM);
  });
}

TEST_CASE("case 14: a file of 100,000 errors: a bounded report, and the reload holds nothing up",
          "[reliability][hostile]") {
  TempDir dir;
  std::string junk = "[runtime]\n";
  for (int i = 0; i < 100000; i++) junk += "unknown_" + std::to_string(i) + " = 1\n";
  const std::string bad = dir.write("bad.toml", junk);
  const Completed check = run_parkway({"-c", bad, "--check-config"}, scaled(60s));
  CHECK(check.exit_code == 1);
  // conf::max_diagnostics problems, each with its line and caret, then one summary line.
  const auto lines = std::count(check.err.begin(), check.err.end(), '\n');
  CHECK(lines == 3 * 50 + 1);
  CHECK_THAT(check.err, Catch::Contains("more problems (99951 errors) not shown"));

  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);
    auto proxy = start_proxy(dir, echo_config(backend));
    const size_t mark = proxy->mark();
    dir.write("parkway.toml", junk);
    proxy->signal(SIGHUP);
    await_log(*proxy, "SIGHUP: reloading", 10s, mark);
    const Time t0 = now();
    proxy->signal(SIGTERM);
    await_log(*proxy, "SIGTERM: draining", 5s, mark);
    CHECK(now() - t0 < scaled(2s));
    CHECK(proxy->wait_exit(scaled(10s)) == 0);
    CHECK(proxy->find_all("error reload: ", mark).size() <= 3 * 50 + 2);
  });
}

TEST_CASE(
    "case 14: a name with an IPv6 and an IPv4 address, served on IPv4 only: every "
    "connection is served, retries going to the address not tried",
    "[reliability][hostile][dns]") {
  TempDir dir;
  raise_fd_limit();
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend backend(echo);  // 127.0.0.1 only: [::1] on its port refuses
    const std::string hosts =
        dir.write("hosts", "127.0.0.1 localhost\n::1 parkway-dual\n127.0.0.1 parkway-dual\n");
    const std::string name = "parkway-dual:" + std::to_string(backend.address().port());
    std::unique_ptr<ProxyProcess> proxy;
    try {
      SpawnOptions options;
      options.private_hosts_file = hosts;
      proxy = start_proxy(dir,
                          admin_toml() + listener_toml("app", "app") +
                              cluster_toml("app", {name}, "connect_attempts = 3\n"),
                          {}, options);
    } catch (const SpawnError& e) {
      if (e.err != EPERM) throw;
      WARN("skipped: a private /etc/hosts needs CAP_SYS_ADMIN (" << e.what() << ")");
      return;
    }
    await_log(*proxy, "endpoint " + name + " resolves to (::1, 127.0.0.1|127.0.0.1, ::1)$");
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    constexpr int kClients = 16, kEach = 100;
    std::atomic<int> served{0}, failed{0};
    WaitGroup clients;
    clients.add(kClients);
    for (int i = 0; i < kClients; i++) {
      go([&] {
        for (int n = 0; n < kEach; n++) {
          auto c = dial_and_echo(addr, "dual", scaled(10s));
          (c ? served : failed)++;
          if (c) c->close();
        }
        clients.done();
      });
    }
    clients.wait();
    INFO(proxy->find_all("cannot connect").size() << " connections failed; first lines:\n"
                                                  << log_of(*proxy).substr(0, 3000));
    CHECK(failed.load() == 0);
    CHECK(served.load() == kClients * kEach);
    CHECK(await_metric(admin, closed_series("app", "client_eof"), kClients * kEach) ==
          kClients * kEach);
    CHECK(read_metric(admin, closed_series("app", "connect_failed")) == 0);
  });
}
