// Per-source limits (proxy/source_limits.h): concurrent connections, the token bucket,
// the table's bound and eviction rule, and many threads at once. Time is passed in, so
// every test is deterministic.
#include "proxy/source_limits.h"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

using namespace parkway;
using namespace std::chrono_literals;
using proxy::SourceAdmission;
using proxy::SourceLease;
using proxy::SourceLimits;
using proxy::SourceLimitsConfig;

namespace {

conf::IpAddress ip(std::string_view text) {
  auto a = conf::IpAddress::parse(text);
  REQUIRE(a.ok());
  return a.value();
}

conf::Rate rate(std::string_view text) {
  auto r = conf::parse_rate(text);
  REQUIRE(r.ok());
  return r.value();
}

conf::IpAddress nth(std::uint32_t i) {
  const std::uint8_t b[4] = {10, static_cast<std::uint8_t>(i >> 16),
                             static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
  return conf::IpAddress::v4(b);
}

const Time t0 = Time(std::chrono::hours(1000));

SourceLimitsConfig config(int max_connections, std::optional<conf::Rate> r,
                          std::size_t max_sources = 65536) {
  SourceLimitsConfig c;
  c.max_connections_per_source = max_connections;
  c.rate = r;
  c.max_sources = max_sources;
  c.hash_seed = 42;
  return c;
}

}  // namespace

TEST_CASE("without limits everyone is admitted and nothing is tracked", "[source_limits]") {
  SourceLimits limits(config(0, std::nullopt));
  CHECK_FALSE(limits.enabled());
  SourceLease lease = limits.admit(ip("192.0.2.1"), t0);
  CHECK(lease.admitted());
  CHECK_FALSE(lease.tracked());
  CHECK(limits.tracked_sources() == 0);
}

TEST_CASE("max_connections_per_source counts open connections per source", "[source_limits]") {
  SourceLimits limits(config(2, std::nullopt));
  SourceLease a1 = limits.admit(ip("192.0.2.1"), t0);
  SourceLease a2 = limits.admit(ip("192.0.2.1"), t0);
  CHECK(a1.admitted());
  CHECK(a2.admitted());
  CHECK(a1.tracked());
  SourceLease a3 = limits.admit(ip("192.0.2.1"), t0);
  CHECK(a3.admission() == SourceAdmission::too_many_connections);
  CHECK_FALSE(a3.tracked());
  CHECK(to_string(a3.admission()) == "too_many_connections");
  // Another source, and the same IPv4 source written IPv4-mapped.
  CHECK(limits.admit(ip("192.0.2.2"), t0).admitted());
  CHECK(limits.admit(ip("::ffff:192.0.2.1"), t0).admission() ==
        SourceAdmission::too_many_connections);
  CHECK(limits.connections(ip("::ffff:192.0.2.1")) == 2);

  a1.release(t0 + 1s);
  a1.release(t0 + 1s);  // idempotent
  CHECK(limits.connections(ip("192.0.2.1")) == 1);
  SourceLease a4 = limits.admit(ip("192.0.2.1"), t0 + 1s);
  CHECK(a4.admitted());
  a2.release(t0 + 2s);
  a4.release(t0 + 2s);
  // Without a rate, an entry whose last connection ended is dropped at once.
  CHECK(limits.connections(ip("192.0.2.1")) == 0);
  CHECK(limits.tracked_sources() == 0);
}

TEST_CASE("a rate is a bucket of N refilled at N per unit", "[source_limits]") {
  SourceLimits limits(config(0, rate("10/m")));
  const conf::IpAddress a = ip("2001:db8::7");
  std::vector<SourceLease> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(limits.admit(a, t0));
    CHECK(held.back().admitted());
  }
  CHECK(limits.admit(a, t0).admission() == SourceAdmission::rate_limited);
  // One token every 6 s: not yet at 5.999 s, one at 6 s, not a second one.
  CHECK(limits.admit(a, t0 + 5999ms).admission() == SourceAdmission::rate_limited);
  CHECK(limits.admit(a, t0 + 6s).admitted());
  CHECK(limits.admit(a, t0 + 6s).admission() == SourceAdmission::rate_limited);
  // Refused attempts take no token: hammering does not delay the next one.
  for (int i = 0; i < 100; ++i) limits.admit(a, t0 + 7s);
  CHECK(limits.admit(a, t0 + 12s).admitted());
  // Idle for a minute: the bucket is full again, 10 and no more.
  int admitted = 0;
  for (int i = 0; i < 15; ++i) admitted += limits.admit(a, t0 + 120s).admitted() ? 1 : 0;
  CHECK(admitted == 10);
  // Other sources have their own buckets.
  CHECK(limits.admit(ip("2001:db8::8"), t0).admitted());
}

TEST_CASE("a connection refused for its count takes no token", "[source_limits]") {
  SourceLimits limits(config(1, rate("2/s")));
  const conf::IpAddress a = ip("192.0.2.9");
  SourceLease first = limits.admit(a, t0);
  REQUIRE(first.admitted());
  for (int i = 0; i < 5; ++i) {
    CHECK(limits.admit(a, t0).admission() == SourceAdmission::too_many_connections);
  }
  first.release(t0);
  // One token left of two: the refusals above did not spend it.
  SourceLease second = limits.admit(a, t0);
  CHECK(second.admitted());
  second.release(t0);
  CHECK(limits.admit(a, t0).admission() == SourceAdmission::rate_limited);
  // The entry rests (bucket not full) and is kept though no connection is open.
  CHECK(limits.tracked_sources() == 1);
  CHECK(limits.admit(a, t0 + 500ms).admitted());
}

TEST_CASE("leases release when destroyed or moved over", "[source_limits]") {
  SourceLimits limits(config(1, std::nullopt));
  {
    SourceLease lease = limits.admit(ip("192.0.2.1"), t0);
    CHECK(limits.connections(ip("192.0.2.1")) == 1);
    SourceLease moved = std::move(lease);
    CHECK_FALSE(lease.tracked());  // NOLINT: a moved-from lease is empty
    CHECK(moved.tracked());
    CHECK(limits.connections(ip("192.0.2.1")) == 1);
  }
  CHECK(limits.connections(ip("192.0.2.1")) == 0);
  SourceLease a = limits.admit(ip("192.0.2.1"), t0);
  SourceLease b = limits.admit(ip("192.0.2.2"), t0);
  a = std::move(b);  // releases what a held
  CHECK(limits.connections(ip("192.0.2.1")) == 0);
  CHECK(limits.connections(ip("192.0.2.2")) == 1);
}

TEST_CASE("a full table drops idle entries first, then the resting one closest to full",
          "[source_limits]") {
  // 4 sources at most (one shard), 1 per minute each.
  SourceLimits limits(config(0, rate("1/m"), 4));
  for (std::uint32_t i = 0; i < 4; ++i) {
    limits.admit(nth(i), t0 + std::chrono::seconds(i)).release(t0 + std::chrono::seconds(i));
  }
  CHECK(limits.tracked_sources() == 4);  // all resting: buckets empty until t0 + 60..63 s

  // A new source: nothing idle, so the resting entry nearest to full (source 0) goes.
  CHECK(limits.admit(nth(100), t0 + 10s).admitted());
  CHECK(limits.stats().evicted == 1);
  CHECK(limits.tracked_sources() == 4);
  // Source 0 was forgotten, so it has a full bucket again (and evicts source 1 to get in);
  // sources 2 and 3 are still remembered, and still limited.
  CHECK(limits.admit(nth(0), t0 + 11s).admitted());
  CHECK(limits.stats().evicted == 2);
  CHECK(limits.admit(nth(2), t0 + 12s).admission() == SourceAdmission::rate_limited);
  CHECK(limits.admit(nth(3), t0 + 12s).admission() == SourceAdmission::rate_limited);
  CHECK(limits.stats().evicted == 2);

  // Once their buckets are full (idle), entries are dropped without counting an eviction.
  CHECK(limits.admit(nth(200), t0 + 200s).admitted());
  CHECK(limits.stats().evicted == 2);
  CHECK(limits.tracked_sources() == 1);
  CHECK(limits.stats().untracked == 0);
}

TEST_CASE("a table full of active sources admits new ones untracked", "[source_limits]") {
  SourceLimits limits(config(1, std::nullopt, 4));
  std::vector<SourceLease> held;
  for (std::uint32_t i = 0; i < 4; ++i) held.push_back(limits.admit(nth(i), t0));
  SourceLease extra = limits.admit(nth(9), t0);
  CHECK(extra.admitted());
  CHECK_FALSE(extra.tracked());
  CHECK(limits.stats().untracked == 1);
  // Active entries are never evicted: their limit still holds.
  CHECK(limits.admit(nth(0), t0).admission() == SourceAdmission::too_many_connections);
  extra.release(t0);  // untracked: changes nothing
  held[1].release(t0);
  SourceLease tracked = limits.admit(nth(9), t0);
  CHECK(tracked.tracked());
  CHECK(limits.admit(nth(9), t0).admission() == SourceAdmission::too_many_connections);
}

TEST_CASE("the table holds max_sources sources", "[source_limits]") {
  SourceLimits limits(config(1, std::nullopt, 65536));
  std::vector<SourceLease> held;
  held.reserve(70000);
  std::size_t tracked = 0;
  for (std::uint32_t i = 0; i < 70000; ++i) {
    held.push_back(limits.admit(nth(i), t0));
    REQUIRE(held.back().admitted());
    tracked += held.back().tracked() ? 1 : 0;
  }
  // Shards fill unevenly, so a few untracked admissions start before the sum is reached;
  // never more than max_sources are tracked.
  CHECK(tracked <= 65536);
  CHECK(tracked > 60000);
  CHECK(limits.tracked_sources() == tracked);
  CHECK(limits.stats().untracked == 70000 - tracked);
  held.clear();  // releases at now(): dropped at once (no rate)
  CHECK(limits.tracked_sources() == 0);
}

TEST_CASE("many threads admit and release at once", "[source_limits]") {
  constexpr int kSources = 32;
  constexpr int kMax = 2;
  SourceLimits limits(config(kMax, std::nullopt));
  std::array<std::atomic<int>, kSources> open{};
  std::atomic<int> over_limit{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const int s = (i * 7 + t) % kSources;
        SourceLease lease = limits.admit(nth(static_cast<std::uint32_t>(s)), t0);
        if (!lease.admitted()) continue;
        admitted.fetch_add(1);
        if (open[s].fetch_add(1) + 1 > kMax) over_limit.fetch_add(1);
        open[s].fetch_sub(1);
        lease.release(t0);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(over_limit.load() == 0);
  CHECK(admitted.load() > 0);
  CHECK(limits.tracked_sources() == 0);
  for (int s = 0; s < kSources; ++s) CHECK(limits.connections(nth(s)) == 0);
}
