// Upstream health (docs/health.md) against real upstreams on loopback that go down and
// up: refusing (a bound port that does not listen), hanging (a full accept queue),
// accepting and then resetting, a redis-server checked with PING / +PONG and stopped and
// started, and a server that answers -ERR. What each test holds parkway to:
//
//   - once an address is known to be down, no client connection goes to it, and every
//     client is served without waiting out a connect timeout;
//   - detection within fall x interval + timeout, recovery within rise x interval (each
//     with a wide tolerance: the bound is what a user relies on, the slack the machine's);
//   - retries spread over the healthy endpoints (the 6 / 3 / 9 split is gone), backups
//     take connections only while no primary is healthy, panic mode;
//   - the state of every address survives a reload;
//   - every transition is one log line with its reason, and /clusters (JSON and text) and
//     `parkway status` say what the metrics say.
//
// The balancer's arithmetic (weights over 10,000 picks, SWRR interleaving, ejection
// lengths, max_ejected_percent) is in tests/proxy/balancer_test.cpp.
#include <csignal>
#include <regex>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;

namespace {

std::string endpoint_series(const std::string& family, const std::string& cluster,
                            const std::string& endpoint) {
  return family + "{cluster=\"" + cluster + "\",endpoint=\"" + endpoint + "\"}";
}

std::string health_series(const std::string& cluster, const std::string& endpoint,
                          const std::string& state) {
  return "parkway_address_health{cluster=\"" + cluster + "\",endpoint=\"" + endpoint +
         "\",address=\"" + endpoint + "\",state=\"" + state + "\"}";
}

// Connection attempts parkway made to `endpoint` so far.
double connects_to(const net::SocketAddress& admin, const std::string& cluster,
                   const std::string& endpoint) {
  return read_metric(admin, endpoint_series("parkway_endpoint_connects_total", cluster, endpoint))
      .value_or(-1);
}

// One client through the proxy: dial, echo `msg`, close. Returns how long it took, or
// nothing if it was not served.
std::optional<Duration> served(uint16_t port, std::string_view msg, Duration within) {
  const Time start = now();
  auto c = dial_and_echo(loopback(port), msg, within);
  if (!c) return std::nullopt;
  c->close();
  return now() - start;
}

// Waits until `series` reads 1, and returns how long that took; FAILs past `within`.
Duration await_state(const net::SocketAddress& admin, const std::string& series, Duration within) {
  const Time start = now();
  const auto v = await_metric(admin, series, 1, within);
  if (v != 1.0) FAIL(series << " is " << (v ? std::to_string(*v) : "absent") << " after waiting");
  return now() - start;
}

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A port on 127.0.0.1 that nobody listens on now (bound, then released).
uint16_t free_port() {
  auto ln = test::listen_local();
  const uint16_t port = test::address_of(ln).port();
  ln.close();
  return port;
}

std::optional<std::string> find_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE(
    "health: with active checks, refusing and hanging endpoints get no client connection "
    "and nobody waits for a connect timeout; the backup serves only when no primary is "
    "healthy; /clusters and parkway status say so",
    "[reliability][health]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    RefusedPort refused;
    FullBacklog hanging;
    REQUIRE(hanging.full());
    Backend good(echo);
    Backend backup(echo);
    // connect_timeout is long: a client whose connect went to the hanging endpoint would
    // wait 3 s (times the sanitizer scale) before its retry.
    const Duration connect_timeout = scaled(3s);
    const std::string cluster =
        "[[cluster]]\nname = \"app\"\nendpoints = [{ address = \"" + refused.endpoint() +
        "\", weight = 3 }, \"" + hanging.endpoint() + "\", \"" + good.endpoint() +
        "\", { address = \"" + backup.endpoint() +
        "\", backup = true }]\nconnect_attempts = 3\nconnect_timeout = \"" +
        std::to_string(std::chrono::duration_cast<milliseconds>(connect_timeout).count()) +
        "ms\"\npanic_threshold = 0\n\n[cluster.health_check]\ninterval = \"200ms\"\n"
        "timeout = \"100ms\"\nrise = 2\nfall = 2\n";
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") + cluster);
    const auto admin = admin_address(*proxy);

    // The first checks ran before the proxy was ready: one line each, with the reason.
    await_log(*proxy, regex_escape("cluster \"app\": " + refused.endpoint() +
                                   ": unchecked -> failing: connect refused (its first check)"));
    await_log(*proxy, regex_escape("cluster \"app\": " + hanging.endpoint() +
                                   ": unchecked -> failing: connect timed out after 0.1s"));
    await_log(*proxy, regex_escape("cluster \"app\": " + good.endpoint() +
                                   ": unchecked -> healthy: its first check passed"));
    CHECK(await_metric(admin, health_series("app", refused.endpoint(), "failing"), 1) == 1);
    CHECK(await_metric(admin, health_series("app", hanging.endpoint(), "failing"), 1) == 1);
    CHECK(await_metric(admin, health_series("app", good.endpoint(), "healthy"), 1) == 1);

    constexpr int kClients = 20;
    for (int i = 0; i < kClients; i++) {
      const auto took = served(proxy->port_of("app"), "hello " + std::to_string(i), scaled(10s));
      INFO("client " << i << "\n" << log_of(*proxy));
      REQUIRE(took);
      // Served without the hanging endpoint's connect timeout (a wide margin under it).
      CHECK(*took < connect_timeout / 2);
    }
    CHECK(connects_to(admin, "app", refused.endpoint()) == 0);
    CHECK(connects_to(admin, "app", hanging.endpoint()) == 0);
    // (The backends' own accept counts include the health checks: parkway's counters
    // count client connections only.)
    CHECK(connects_to(admin, "app", good.endpoint()) == kClients);
    CHECK(connects_to(admin, "app", backup.endpoint()) == 0);

    // /clusters: JSON a program reads, and the table a person reads.
    const auto json = observe::http_get(admin, "/clusters");
    REQUIRE(json.status == 200);
    CHECK(json.body.find("\"name\":\"" + refused.endpoint() + "\",\"weight\":3,\"backup\":false") !=
          std::string::npos);
    CHECK(json.body.find("\"name\":\"" + backup.endpoint() + "\",\"weight\":1,\"backup\":true") !=
          std::string::npos);
    CHECK(json.body.find("\"address\":\"" + refused.endpoint() + "\",\"state\":\"failing\"") !=
          std::string::npos);
    CHECK(json.body.find("\"address\":\"" + good.endpoint() + "\",\"state\":\"healthy\"") !=
          std::string::npos);
    CHECK(json.body.find("\"health_checks\":true") != std::string::npos);
    CHECK(json.body.find("\"last_check\":{\"ago_s\":") != std::string::npos);
    const auto text = observe::http_get(admin, "/clusters?format=text");
    REQUIRE(text.status == 200);
    CHECK(text.body.starts_with("CLUSTER  ENDPOINT"));
    const std::regex refused_row("app +" + regex_escape(refused.endpoint()) + " w=3 +" +
                                 regex_escape(refused.endpoint()) +
                                 " +failing +\\S+ +0 +connect refused");
    const std::regex backup_row("app +" + regex_escape(backup.endpoint()) + " backup +" +
                                regex_escape(backup.endpoint()) + " +healthy ");
    CHECK(std::regex_search(text.body, refused_row));
    CHECK(std::regex_search(text.body, backup_row));
    // `parkway status` prints the same table from the running process.
    const auto status = run_parkway({"status", "--admin", admin.to_string()});
    INFO("parkway status: " << status.out << status.err);
    CHECK(status.exit_code == 0);
    CHECK(status.out.starts_with("CLUSTER  ENDPOINT"));
    CHECK(std::regex_search(status.out, refused_row));
    CHECK(std::regex_search(status.out, backup_row));
    // ... and says clearly when there is nothing to ask.
    const auto nobody = run_parkway({"status", "--admin", refused.endpoint()});
    CHECK(nobody.exit_code == 1);
    CHECK(nobody.err.find("cannot reach the admin endpoint at " + refused.endpoint()) !=
          std::string::npos);

    // The last primary goes down: the backup takes over, once the checks have seen it.
    good.stop();
    await_state(admin, health_series("app", good.endpoint(), "failing"), 10s);
    await_log(*proxy, regex_escape("cluster \"app\": " + good.endpoint() +
                                   ": healthy -> failing: connect refused (2 checks in a row)"));
    for (int i = 0; i < 5; i++) {
      const auto took = served(proxy->port_of("app"), "to the backup", scaled(10s));
      INFO(log_of(*proxy));
      REQUIRE(took);
      CHECK(*took < connect_timeout / 2);
    }
    CHECK(connects_to(admin, "app", backup.endpoint()) == 5);
    CHECK(connects_to(admin, "app", hanging.endpoint()) == 0);
  });
}

TEST_CASE(
    "health: an endpoint that stops is failing within fall x interval + timeout, and healthy "
    "again within rise x interval of coming back",
    "[reliability][health]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend stays(echo);
    auto flaps = std::make_unique<Backend>(echo);
    const uint16_t port = flaps->address().port();
    const std::string name = flaps->endpoint();
    // interval 300ms, timeout 100ms, rise 2, fall 3: detection within 3 x 300 + 100 =
    // 1000 ms (each check moves by up to 10%), recovery within 2 x 300 = 600 ms.
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {stays.endpoint(), name},
                                          "[cluster.health_check]\ninterval = \"300ms\"\ntimeout = "
                                          "\"100ms\"\nrise = 2\nfall = 3\n"));
    const auto admin = admin_address(*proxy);
    await_state(admin, health_series("app", name, "healthy"), 10s);

    flaps->stop();
    const Duration detection = await_state(admin, health_series("app", name, "failing"), 10s);
    INFO("detected in " << ms(detection) << " ms");
    CHECK(detection < scaled(3s));  // the bound is 1.1 s: wide for a shared machine
    await_log(*proxy, regex_escape("cluster \"app\": " + name +
                                   ": healthy -> failing: connect refused (3 checks in a row)"));
    // Down and known: every client goes to the other endpoint.
    const double before = connects_to(admin, "app", name);
    for (int i = 0; i < 10; i++) REQUIRE(served(proxy->port_of("app"), "x", scaled(5s)));
    CHECK(connects_to(admin, "app", name) == before);

    flaps = std::make_unique<Backend>(echo, net::ListenOptions{}, port);
    const Duration recovery = await_state(admin, health_series("app", name, "healthy"), 10s);
    INFO("recovered in " << ms(recovery) << " ms");
    CHECK(recovery < scaled(3s));  // the bound is 0.66 s
    await_log(*proxy, regex_escape("cluster \"app\": " + name +
                                   ": failing -> healthy: 2 checks in a row passed"));
    const double back = connects_to(admin, "app", name);
    for (int i = 0; i < 10; i++) REQUIRE(served(proxy->port_of("app"), "y", scaled(5s)));
    CHECK(connects_to(admin, "app", name) - back == 5);  // its share again (round robin)
    CHECK(
        read_metric(admin, "parkway_address_health_transitions_total{cluster=\"app\",endpoint=\"" +
                               name + "\",address=\"" + name + "\",state=\"failing\"}") == 1);
  });
}

TEST_CASE(
    "health: an endpoint that accepts and resets is ejected by passive outlier detection, "
    "logged and counted; the ejection survives a reload and no client reaches it",
    "[reliability][health]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    Backend resets([](net::Conn& c) { c.close_with_reset(); });
    Backend good(echo);
    const std::string outlier =
        "[cluster.outlier]\nconsecutive_failures = 3\nbase_ejection = \"60s\"\n";
    auto proxy = start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                                      cluster_toml("app", {resets.endpoint(), good.endpoint()},
                                                   "connect_attempts = 2\n" + outlier));
    const auto admin = admin_address(*proxy);
    // Round robin alternates: every second client draws the resetting endpoint and gets a
    // reset (or, when the reset beats the connect's completion, a retry on the other
    // endpoint: "reset while connecting") until it is ejected.
    for (int i = 0; i < 40 && resets.accepted() < 3; i++) {
      served(proxy->port_of("app"), "hi", scaled(5s));
    }
    REQUIRE(resets.accepted() == 3);
    await_log(*proxy, regex_escape("cluster \"app\": " + resets.endpoint() +
                                   ": healthy -> ejected for 60s: ") +
                          "(reset (after accept|while connecting) 3 times in a row|3 connects in a "
                          "row failed, the last: reset (after accept|while connecting))");
    CHECK(await_metric(admin, health_series("app", resets.endpoint(), "ejected"), 1) == 1);
    CHECK(read_metric(admin, "parkway_address_ejections_total{cluster=\"app\",endpoint=\"" +
                                 resets.endpoint() + "\",address=\"" + resets.endpoint() + "\"}") ==
          1);
    for (int i = 0; i < 10; i++) REQUIRE(served(proxy->port_of("app"), "after", scaled(5s)));
    CHECK(resets.accepted() == 3);

    // A reload that changes the cluster (another timeout, a third endpoint): the ejected
    // address stays ejected, with its count, and is not checked or trusted anew.
    Backend third(echo);
    const size_t mark = proxy->mark();
    dir.write("parkway.toml",
              admin_toml() + listener_toml("app", "app") +
                  cluster_toml("app", {resets.endpoint(), good.endpoint(), third.endpoint()},
                               "connect_attempts = 2\nidle_timeout = \"5m\"\n" + outlier));
    proxy->signal(SIGHUP);
    await_log(*proxy, "reload: done", 10s, mark);
    CHECK(proxy->find_all(regex_escape(resets.endpoint()) + ": \\w+ -> ", mark).empty());
    const auto json = observe::http_get(admin, "/clusters");
    CHECK(json.body.find("\"address\":\"" + resets.endpoint() + "\",\"state\":\"ejected\"") !=
          std::string::npos);
    CHECK(read_metric(admin, "parkway_address_ejections_total{cluster=\"app\",endpoint=\"" +
                                 resets.endpoint() + "\",address=\"" + resets.endpoint() + "\"}") ==
          1);
    for (int i = 0; i < 10; i++) REQUIRE(served(proxy->port_of("app"), "reloaded", scaled(5s)));
    CHECK(resets.accepted() == 3);
    CHECK(third.accepted() == 5);
  });
}

TEST_CASE(
    "health: retries after a refused connect spread over the other endpoints (no 6 / 3 / 9 "
    "split)",
    "[reliability][health]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    RefusedPort refused;
    Backend a(echo), b(echo);
    // Passive ejection off, so that the refused endpoint keeps its turn and every turn it
    // gets is a retry.
    auto proxy = start_proxy(
        dir, listener_toml("app", "app") +
                 cluster_toml("app", {refused.endpoint(), a.endpoint(), b.endpoint()},
                              "connect_attempts = 3\n\n[cluster.outlier]\nenabled = false\n"));
    for (int i = 0; i < 12; i++) REQUIRE(served(proxy->port_of("app"), "spread", scaled(5s)));
    INFO("a " << a.accepted() << ", b " << b.accepted());
    CHECK(a.accepted() + b.accepted() == 12);
    // Before: the retry went to the endpoint after the refused one, which got 9 of 12.
    CHECK(a.accepted() == 6);
    CHECK(b.accepted() == 6);
  });
}

TEST_CASE(
    "health: panic mode: below panic_threshold healthy, connections go to every address, "
    "and that is logged and exported",
    "[reliability][health]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    RefusedPort r1, r2;
    Backend good(echo);
    auto proxy =
        start_proxy(dir, admin_toml() + listener_toml("app", "app") +
                             cluster_toml("app", {r1.endpoint(), r2.endpoint(), good.endpoint()},
                                          "connect_attempts = 3\npanic_threshold = 50\n\n"
                                          "[cluster.health_check]\ninterval = \"1s\"\n"
                                          "timeout = \"200ms\"\n"));
    const auto admin = admin_address(*proxy);
    CHECK(await_metric(admin, health_series("app", r1.endpoint(), "failing"), 1) == 1);
    CHECK(await_metric(admin, health_series("app", r2.endpoint(), "failing"), 1) == 1);
    CHECK(read_metric(admin, "parkway_cluster_panic{cluster=\"app\"}") == 0);
    // One of three healthy is below 50%: panic. Every client is still served (a retry
    // among the addresses not tried reaches the good one).
    for (int i = 0; i < 6; i++) REQUIRE(served(proxy->port_of("app"), "panic", scaled(5s)));
    await_log(*proxy,
              R"(cluster "app": panic: 1 of 3 addresses healthy, below panic_threshold \(50%\))");
    CHECK(read_metric(admin, "parkway_cluster_panic{cluster=\"app\"}") == 1);
    CHECK(connects_to(admin, "app", r1.endpoint()) + connects_to(admin, "app", r2.endpoint()) > 0);
    CHECK(connects_to(admin, "app", good.endpoint()) == 6);
  });
}

TEST_CASE(
    "health: a protocol check against redis-server (PING, +PONG) follows the server stopped "
    "and started; a server answering -ERR fails the check with what it said",
    "[reliability][health][redis]") {
  const auto redis = find_program("redis-server");
  if (!redis) {
    WARN("redis-server is not installed (script/bootstrap test installs it): skipped");
    return;
  }
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    const uint16_t port = free_port();
    const std::string name = "127.0.0.1:" + std::to_string(port);
    const std::vector<std::string> redis_args = {
        "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
        "",       "--appendonly",       "no",     "--dir",     dir.path()};
    auto server = std::make_unique<ProxyProcess>(redis_args, SpawnOptions{}, *redis);
    Backend err([](net::Conn& c) {
      std::array<std::byte, 64> buf;
      if (auto r = c.read(buf); !r.error && r.bytes > 0) c.write_all(bytes_of("-ERR loading\r\n"));
    });
    const std::string check =
        "\n[cluster.health_check]\ninterval = \"300ms\"\ntimeout = \"200ms\"\nrise = 2\n"
        "fall = 2\nsend = \"PING\\r\\n\"\nexpect = \"+PONG\"\n";
    auto proxy = start_proxy(
        dir, admin_toml() + listener_toml("cache", "cache") + cluster_toml("cache", {name}, check) +
                 listener_toml("fake", "fake") + cluster_toml("fake", {err.endpoint()}, check));
    const auto admin = admin_address(*proxy);
    // redis-server may take a moment to listen: its first check may fail, then two pass.
    await_state(admin, health_series("cache", name, "healthy"), 20s);
    await_log(*proxy,
              regex_escape("cluster \"fake\": " + err.endpoint() +
                           ": unchecked -> failing: expect \"+PONG\" got \"-ERR loading\\r\\n\""));
    CHECK(read_metric(admin, health_series("fake", err.endpoint(), "failing")) == 1);

    // A PING through parkway reaches redis.
    {
      auto c = net::Conn::dial(loopback(proxy->port_of("cache")), now() + scaled(5s));
      REQUIRE(c);
      REQUIRE(!c->write_all(bytes_of("PING\r\n")).error);
      CHECK(read_exactly(*c, 7, now() + scaled(5s)).data == "+PONG\r\n");
    }

    server->signal(SIGTERM);
    REQUIRE(server->wait_exit(20s));
    const Duration detection = await_state(admin, health_series("cache", name, "failing"), 10s);
    INFO("detected in " << ms(detection) << " ms");
    CHECK(detection < scaled(3s));  // fall x interval + timeout = 0.8 s
    await_log(*proxy, regex_escape("cluster \"cache\": " + name + ": healthy -> failing: "));

    server = std::make_unique<ProxyProcess>(redis_args, SpawnOptions{}, *redis);
    const Duration recovery = await_state(admin, health_series("cache", name, "healthy"), 20s);
    INFO("recovered in " << ms(recovery) << " ms (redis-server's start included)");
    CHECK(recovery < scaled(5s));
    await_log(*proxy, regex_escape("cluster \"cache\": " + name +
                                   ": failing -> healthy: 2 checks in a row passed"));
    CHECK(read_metric(admin, "parkway_address_health_checks_total{cluster=\"cache\",endpoint=\"" +
                                 name + "\",address=\"" + name + "\",result=\"fail\"}")
              .value_or(0) >= 2);
    // The checks are not client connections.
    CHECK(read_metric(admin, "parkway_listener_connections_accepted_total{listener=\"cache\"}") ==
          1);
  });
}
