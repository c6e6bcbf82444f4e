#include "proxy/cluster.h"

#include <algorithm>

#include "proxy/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {
namespace {

using namespace std::chrono_literals;

// How long one DNS query may take, and how often a name that never resolved is retried
// when the cluster does not refresh (dns_refresh = 0).
constexpr Duration kResolveTimeout = 5s;
constexpr Duration kUnresolvedRetry = 5s;

std::string join(const std::vector<net::SocketAddress>& addrs) {
  std::string s;
  for (const auto& a : addrs) s += (s.empty() ? "" : ", ") + a.ip_string();
  return s.empty() ? "(none)" : s;
}

}  // namespace

EndpointState::EndpointState(conf::Endpoint endpoint)
    : config_(std::move(endpoint)), name_(config_.to_string()) {
  if (!is_dns_name()) {
    // An IP literal: its one address is known now.
    auto a = net::SocketAddress::parse(name_);
    if (a) set_addresses({*a});
  }
}

std::optional<net::SocketAddress> EndpointState::next_address() {
  sched::SpinGuard g(lock_);
  if (addresses_.empty()) return std::nullopt;
  return addresses_[next_++ % addresses_.size()];
}

std::vector<net::SocketAddress> EndpointState::addresses() const {
  sched::SpinGuard g(lock_);
  return addresses_;
}

bool EndpointState::set_addresses(std::vector<net::SocketAddress> addresses) {
  sched::SpinGuard g(lock_);
  if (addresses == addresses_) return false;
  addresses_ = std::move(addresses);
  has_address_.store(!addresses_.empty(), std::memory_order_release);
  return true;
}

ClusterState::ClusterState(conf::Cluster config, Resolver& resolver)
    : config_(std::move(config)),
      resolver_(resolver),
      rng_(0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(this)) {
  for (const auto& e : config_.endpoints) endpoints_.push_back(std::make_unique<EndpointState>(e));
}

ClusterState::~ClusterState() { stop(); }

uint64_t ClusterState::random() {
  // splitmix64 over an atomic counter: good enough for power-of-two choices, and safe
  // from any goroutine.
  uint64_t z = rng_.fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

EndpointState* ClusterState::pick(const std::vector<bool>& tried) {
  const size_t n = endpoints_.size();
  std::vector<size_t> candidates;
  candidates.reserve(n);
  for (size_t i = 0; i < n; i++) {
    if (endpoints_[i]->has_address() && (i >= tried.size() || !tried[i])) candidates.push_back(i);
  }
  if (candidates.empty()) {  // every endpoint with an address was tried: go round again
    for (size_t i = 0; i < n; i++) {
      if (endpoints_[i]->has_address()) candidates.push_back(i);
    }
  }
  if (candidates.empty()) return nullptr;
  const size_t k = candidates.size();
  switch (config_.balance) {
    case conf::Balance::round_robin:
      return endpoints_[candidates[rr_.fetch_add(1, std::memory_order_relaxed) % k]].get();
    case conf::Balance::least_connections: {
      // The fewest active; among equals, take turns.
      const size_t start = rr_.fetch_add(1, std::memory_order_relaxed) % k;
      size_t best = candidates[start];
      for (size_t j = 1; j < k; j++) {
        size_t c = candidates[(start + j) % k];
        if (endpoints_[c]->active.load() < endpoints_[best]->active.load()) best = c;
      }
      return endpoints_[best].get();
    }
    case conf::Balance::power_of_two: {
      if (k == 1) return endpoints_[candidates[0]].get();
      size_t a = candidates[random() % k];
      size_t b = candidates[random() % (k - 1)];
      if (b == a) b = candidates[k - 1];  // two distinct choices
      return endpoints_[a]->active.load() <= endpoints_[b]->active.load() ? endpoints_[a].get()
                                                                          : endpoints_[b].get();
    }
  }
  return nullptr;
}

bool ClusterState::resolve_endpoint(EndpointState& ep, bool initial) {
  auto r = resolver_.resolve(ep.config().host, ep.config().port, kResolveTimeout);
  bump(counters.dns_resolutions);
  if (!r || r->empty()) {
    bump(counters.dns_failures);
    const std::string why = r ? "no addresses" : r.error().message();
    if (!ep.resolve_failing) {
      ep.resolve_failing = true;
      if (ep.has_address()) {
        log_warn("cluster ", quoted(name()), ": endpoint ", ep.name(), ": cannot resolve (", why,
                 "); keeping its last addresses ", join(ep.addresses()));
      } else {
        log_warn("cluster ", quoted(name()), ": endpoint ", ep.name(), ": cannot resolve (", why,
                 "); it gets no connections until it resolves");
      }
    }
    return false;
  }
  const bool was_failing = ep.resolve_failing;
  ep.resolve_failing = false;
  const bool changed = ep.set_addresses(*r);
  if (initial || changed || was_failing) {
    log_info("cluster ", quoted(name()), ": endpoint ", ep.name(), " resolves to ",
             join(ep.addresses()));
  }
  return true;
}

void ClusterState::resolve_now() {
  WaitGroup wg;
  for (auto& ep : endpoints_) {
    if (!ep->is_dns_name()) continue;
    wg.add(1);
    EndpointState* e = ep.get();
    go([this, e, &wg] {
      resolve_endpoint(*e, true);
      wg.done();
    });
  }
  wg.wait();
}

void ClusterState::start_refresh() {
  const bool any_dns = std::any_of(endpoints_.begin(), endpoints_.end(),
                                   [](const auto& e) { return e->is_dns_name(); });
  if (!any_dns || refreshing_) return;
  refreshing_ = true;
  refresher_.add(1);
  go([this] {
    refresh_loop();
    refresher_.done();
  });
}

void ClusterState::refresh_loop() {
  const Duration every = config_.dns_refresh;
  for (;;) {
    bool unresolved = false;
    for (auto& ep : endpoints_) unresolved = unresolved || (ep->is_dns_name() && !ep->has_address());
    Duration wait = every > Duration::zero() ? every : kUnresolvedRetry;
    if (every == Duration::zero() && !unresolved) return;  // resolved once: done
    if (stop_.wait_for(wait)) return;
    for (auto& ep : endpoints_) {
      if (!ep->is_dns_name()) continue;
      if (every == Duration::zero() && ep->has_address()) continue;
      resolve_endpoint(*ep, false);
      if (stop_.has_been_notified()) return;
    }
  }
}

void ClusterState::stop() {
  stop_.notify();
  if (refreshing_) refresher_.wait();
  refreshing_ = false;
}

}  // namespace parkway::proxy
