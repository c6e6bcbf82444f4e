// The balancer of a cluster (proxy/cluster.h): weights respected by all three policies,
// healthy hosts first, backups only when no primary is healthy, panic mode, and retries
// that go to hosts not tried yet. No sockets: hosts' health is set through HostHealth.
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <set>

#include "conf/keys.h"
#include "proxy/cluster.h"
#include "proxy/resolver.h"
#include "scheduler/runtime.h"

using namespace parkway;
using namespace parkway::proxy;

namespace {

conf::Cluster cluster_of(std::vector<std::string> endpoints, conf::Balance balance) {
  conf::Cluster c = conf::defaults<conf::Cluster>();
  c.name = "app";
  c.balance = balance;
  for (const auto& e : endpoints) c.endpoints.push_back(conf::parse_endpoint_spec(e).value());
  return c;
}

// Picks `n` times, holding `open` connections at once (the oldest closes as a new one
// opens), and counts the picks per endpoint.
std::map<std::string, int> spread(ClusterState& cluster, int n, size_t open) {
  std::map<std::string, int> count;
  std::deque<std::shared_ptr<Host>> held;
  for (int i = 0; i < n; i++) {
    Tried tried;
    auto h = cluster.pick(tried);
    REQUIRE(h);
    count[h->endpoint_name]++;
    h->health->active++;
    held.push_back(h);
    if (held.size() > open) {
      held.front()->health->active--;
      held.pop_front();
    }
  }
  for (auto& h : held) h->health->active--;
  return count;
}

}  // namespace

TEST_CASE("weights: every policy shares connections in proportion, within a few percent",
          "[balancer]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Resolver resolver;
    for (const auto balance : {conf::Balance::round_robin, conf::Balance::least_connections,
                               conf::Balance::power_of_two}) {
      INFO(conf::to_string(balance));
      ClusterState c(
          cluster_of({"10.0.0.1:80", "10.0.0.2:80/weight=3", "10.0.0.3:80/weight=6"}, balance),
          resolver);
      const auto count = spread(c, 10000, 50);
      // Two random choices compare load per weight: close to the weights, not exact.
      const double e = balance == conf::Balance::power_of_two ? 0.1 : 0.05;
      CHECK(count.at("10.0.0.1:80") == Approx(1000).epsilon(e));
      CHECK(count.at("10.0.0.2:80") == Approx(3000).epsilon(e));
      CHECK(count.at("10.0.0.3:80") == Approx(6000).epsilon(e));
    }
    // Smooth weighted round robin is exact and interleaves: 1, 3, 6 in every 10.
    ClusterState rr(cluster_of({"10.0.0.1:80", "10.0.0.2:80/weight=3", "10.0.0.3:80/weight=6"},
                               conf::Balance::round_robin),
                    resolver);
    std::string order;
    for (int i = 0; i < 10; i++) {
      Tried tried;
      order += rr.pick(tried)->endpoint_name.substr(7, 1);
    }
    CHECK(order == "3231323323");
  });
}

TEST_CASE("retries go to hosts not tried; then round again", "[balancer]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Resolver resolver;
    ClusterState c(
        cluster_of({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}, conf::Balance::round_robin),
        resolver);
    for (int n = 0; n < 20; n++) {
      Tried tried;
      std::set<std::string> seen;
      for (int i = 0; i < 3; i++) {
        auto h = c.pick(tried);
        REQUIRE(h);
        seen.insert(h->endpoint_name);
        tried.add(h.get());
      }
      CHECK(seen.size() == 3);          // three attempts, three hosts
      CHECK(c.pick(tried) != nullptr);  // a fourth goes round again
    }
  });
}

TEST_CASE(
    "health: ejected and failing hosts get nothing; backups only when no primary is "
    "healthy; panic mode below the threshold",
    "[balancer]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Resolver resolver;
    conf::Cluster config = cluster_of({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.9:80/backup"},
                                      conf::Balance::round_robin);
    config.outlier.consecutive_failures = 2;
    config.outlier.max_ejected_percent = 100;
    ClusterState c(config, resolver);
    auto host = [&](const std::string& name) {
      for (const auto& h : c.hosts()) {
        if (h->endpoint_name == name) return h;
      }
      FAIL("no host " << name);
      return std::shared_ptr<Host>();
    };
    // One primary ejected: the other takes everything (1 of 2 healthy is not below 50%).
    c.connect_failed(*host("10.0.0.1:80"), "connect refused");
    CHECK(host("10.0.0.1:80")->health->state() == HealthState::healthy);  // one is not enough
    c.connect_failed(*host("10.0.0.1:80"), "connect refused");
    CHECK(host("10.0.0.1:80")->health->state() == HealthState::ejected);
    CHECK(host("10.0.0.1:80")->health->report().why == "connect refused 2 times in a row");
    auto count = spread(c, 100, 10);
    CHECK(count["10.0.0.2:80"] == 100);
    CHECK_FALSE(c.in_panic());
    // Both primaries ejected: the backup serves, and it is no panic.
    c.connect_failed(*host("10.0.0.2:80"), "connect timed out");
    c.connect_failed(*host("10.0.0.2:80"), "connect timed out");
    count = spread(c, 100, 10);
    CHECK(count["10.0.0.9:80"] == 100);
    CHECK_FALSE(c.in_panic());
    // The backup ejected too: panic, the primaries are used all the same.
    c.connect_failed(*host("10.0.0.9:80"), "reset after accept");
    c.connect_failed(*host("10.0.0.9:80"), "reset after accept");
    count = spread(c, 100, 10);
    CHECK(count["10.0.0.1:80"] == 50);
    CHECK(count["10.0.0.2:80"] == 50);
    CHECK(c.in_panic());
  });
}

TEST_CASE("active checks: an unchecked host is not trusted; rise and fall; panic_threshold",
          "[balancer]") {
  Runtime rt({.procs = 1});
  rt.run([] {
    Resolver resolver;
    conf::Cluster config = cluster_of({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"},
                                      conf::Balance::round_robin);
    config.health_check = conf::defaults<conf::HealthCheck>();
    const conf::HealthCheck& hc = *config.health_check;
    ClusterState c(config, resolver);
    const auto hosts = c.hosts();
    REQUIRE(hosts.size() == 4);
    {
      Tried tried;
      CHECK(c.pick(tried) == nullptr);  // nothing checked yet: nothing trusted
    }
    hosts[0]->health->check_passed(hc);
    CHECK(hosts[0]->health->state() == HealthState::healthy);  // the first check suffices
    for (size_t i = 1; i < 4; i++) hosts[i]->health->check_failed("connect refused", hc);
    // 1 of 4 healthy, below 50%: panic over the checked hosts.
    auto count = spread(c, 400, 10);
    CHECK(count.size() == 4);
    CHECK(c.in_panic());
    // Recovery takes `rise` passes in a row; failing takes `fall` failures in a row.
    hosts[1]->health->check_passed(hc);
    CHECK(hosts[1]->health->state() == HealthState::failing);
    hosts[1]->health->check_passed(hc);
    CHECK(hosts[1]->health->state() == HealthState::healthy);
    count = spread(c, 400, 10);  // 2 of 4: no panic
    CHECK_FALSE(c.in_panic());
    CHECK(count["10.0.0.1:80"] == 200);
    CHECK(count["10.0.0.2:80"] == 200);
    for (int i = 0; i < hc.fall - 1; i++) hosts[0]->health->check_failed("expect", hc);
    CHECK(hosts[0]->health->state() == HealthState::healthy);
    hosts[0]->health->check_failed("expect \"+PONG\" got \"-ERR\"", hc);
    CHECK(hosts[0]->health->state() == HealthState::failing);
    CHECK(hosts[0]->health->report().why == "expect \"+PONG\" got \"-ERR\" (3 checks in a row)");
  });
}
