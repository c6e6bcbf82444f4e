#include "proxy/cluster.h"

#include <algorithm>

#include "proxy/log/log.h"
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

std::string health_key(const std::string& endpoint, const net::SocketAddress& a) {
  return endpoint + "/" + a.to_string();
}

}  // namespace

// ---- Tried, EndpointState ---------------------------------------------------------------

bool Tried::has(const Host* host) const {
  return std::find(items_.begin(), items_.end(), host->health.get()) != items_.end();
}

EndpointState::EndpointState(conf::Endpoint endpoint)
    : config_(std::move(endpoint)), name_(config_.to_string()) {
  if (!is_dns_name()) {
    // An IP literal: its one address is known now.
    auto a = net::SocketAddress::parse(name_);
    if (a) set_addresses({*a});
  }
}

std::vector<net::SocketAddress> EndpointState::addresses() const {
  sched::SpinGuard g(lock_);
  return addresses_;
}

bool EndpointState::set_addresses(std::vector<net::SocketAddress> addresses) {
  // Interleave the families, keeping the order within each (RFC 8305, section 4).
  std::vector<net::SocketAddress> first, second;
  for (const auto& a : addresses) {
    (a.family() == addresses.front().family() ? first : second).push_back(a);
  }
  std::vector<net::SocketAddress> ordered;
  ordered.reserve(addresses.size());
  for (size_t i = 0; i < std::max(first.size(), second.size()); i++) {
    if (i < first.size()) ordered.push_back(first[i]);
    if (i < second.size()) ordered.push_back(second[i]);
  }
  sched::SpinGuard g(lock_);
  if (ordered == addresses_) return false;
  addresses_ = std::move(ordered);
  has_address_.store(!addresses_.empty(), std::memory_order_release);
  return true;
}

// ---- ClusterState -----------------------------------------------------------------------

ClusterState::ClusterState(conf::Cluster config, Resolver& resolver, const ClusterState* previous)
    : config_(std::move(config)),
      resolver_(resolver),
      rng_(0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(this)) {
  for (const auto& e : config_.endpoints) endpoints_.push_back(std::make_unique<EndpointState>(e));
  Hosts drain_from_previous;
  if (previous != nullptr) {
    // A reload: the health of every address stays with it. Addresses of the previous state
    // that this one does not have, and that still have connections, drain.
    sched::SpinGuard g(previous->hosts_lock_);
    sched::SpinGuard mine(hosts_lock_);
    health_ = previous->health_;
    for (const auto& h : *previous->hosts_) {
      if (h->health->active.load() > 0) drain_from_previous.push_back(h);
    }
    for (const auto& h : previous->draining_) {
      if (h->health->active.load() > 0) drain_from_previous.push_back(h);
    }
    panic_.store(previous->panic_.load());
  }
  {
    sched::SpinGuard g(hosts_lock_);
    hosts_ = std::make_shared<const Hosts>();
  }
  rebuild_hosts();
  sched::SpinGuard g(hosts_lock_);
  for (auto& h : drain_from_previous) {
    const bool kept = std::any_of(hosts_->begin(), hosts_->end(),
                                  [&](const auto& mine) { return mine->health == h->health; });
    if (kept) continue;
    auto copy = std::make_shared<Host>(Host{nullptr, h->endpoint_name, h->address, h->health});
    draining_.push_back(std::move(copy));
  }
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

std::string ClusterState::who(const EndpointState& ep, const net::SocketAddress& a) const {
  std::string s = "cluster " + quoted(name()) + ": " + a.to_string();
  if (ep.is_dns_name()) s += " (endpoint " + ep.name() + ")";
  return s;
}

std::shared_ptr<const ClusterState::Hosts> ClusterState::snapshot() const {
  sched::SpinGuard g(hosts_lock_);
  return hosts_;
}

std::vector<std::shared_ptr<Host>> ClusterState::hosts() const { return *snapshot(); }

std::vector<std::shared_ptr<Host>> ClusterState::draining() const {
  sched::SpinGuard g(hosts_lock_);
  Hosts out;
  for (const auto& h : draining_) {
    if (h->health->active.load() > 0) out.push_back(h);
  }
  return out;
}

// Makes the host list anew from the endpoints' addresses: kept hosts stay as they are,
// new ones get the health recorded for their address (or a new one), and removed ones
// with connections open drain.
void ClusterState::rebuild_hosts() {
  std::vector<std::pair<EndpointState*, net::SocketAddress>> wanted;
  for (auto& ep : endpoints_) {
    for (const auto& a : ep->addresses()) wanted.emplace_back(ep.get(), a);
  }
  sched::SpinGuard g(hosts_lock_);
  const Hosts& old = *hosts_;
  auto next = std::make_shared<Hosts>();
  for (const auto& want : wanted) {
    EndpointState* const ep = want.first;       // not a structured binding: clang 14 cannot
    const net::SocketAddress& a = want.second;  // capture one in the lambda below
    auto it = std::find_if(old.begin(), old.end(),
                           [&](const auto& h) { return h->endpoint == ep && h->address == a; });
    if (it != old.end()) {
      next->push_back(*it);
      continue;
    }
    auto& health = health_[health_key(ep->name(), a)];
    if (!health) health = std::make_shared<HostHealth>(who(*ep, a), checks_on());
    if (!checks_on()) health->checks_removed();
    auto host = std::make_shared<Host>(Host{ep, ep->name(), a, health});
    if (started_ && checks_on()) start_checker(host);
    next->push_back(std::move(host));
  }
  draining_.erase(std::remove_if(draining_.begin(), draining_.end(),
                                 [](const auto& h) { return h->health->active.load() == 0; }),
                  draining_.end());
  for (const auto& h : old) {
    const bool kept =
        std::any_of(next->begin(), next->end(), [&](const auto& n) { return n.get() == h.get(); });
    if (kept) continue;
    if (auto c = checkers_.find(h->health.get()); c != checkers_.end()) {
      c->second->notify();
      checkers_.erase(c);
    }
    if (h->health->active.load() > 0) draining_.push_back(h);
  }
  hosts_ = std::move(next);
}

std::shared_ptr<Host> ClusterState::pick(Tried& tried) {
  const std::shared_ptr<const Hosts> snap = snapshot();
  const Hosts& hosts = *snap;
  const Time t = now();
  const bool checks = checks_on();
  // Who is healthy, over every host (the panic fraction counts the tried ones too).
  size_t primaries = 0, healthy_primaries = 0, healthy_backups = 0;
  std::vector<uint8_t> usable(hosts.size());
  for (size_t i = 0; i < hosts.size(); i++) {
    const Host& h = *hosts[i];
    usable[i] = h.health->usable(t, checks);
    const bool known = h.health->state() != HealthState::unchecked;
    if (h.endpoint->backup()) {
      healthy_backups += usable[i];
    } else {
      primaries += known;
      healthy_primaries += usable[i];
    }
  }
  const int threshold = config_.panic_threshold;
  const bool enough = healthy_primaries > 0 &&
                      healthy_primaries * 100 >= static_cast<size_t>(threshold) * primaries;
  enum class Set { healthy, backups, panic, none } set = Set::none;
  if (enough) {
    set = Set::healthy;
  } else if (healthy_backups > 0) {
    set = Set::backups;
  } else if (threshold > 0 && primaries > 0) {
    set = Set::panic;
  }
  if (set == Set::panic) {
    if (!panic_.exchange(true)) {
      log_warn("cluster ", quoted(name()), ": panic: ", healthy_primaries, " of ", primaries,
               " addresses healthy, below panic_threshold (", threshold,
               "%): connections go to all of them");
    }
  } else if (set != Set::none && panic_.exchange(false)) {
    log_warn("cluster ", quoted(name()), ": out of panic: ", healthy_primaries, " of ", primaries,
             " addresses healthy");
  }
  if (set == Set::none) return nullptr;
  auto in_set = [&](size_t i) {
    const Host& h = *hosts[i];
    switch (set) {
      case Set::healthy: return !h.endpoint->backup() && usable[i] != 0;
      case Set::backups: return h.endpoint->backup() && usable[i] != 0;
      case Set::panic: return !h.endpoint->backup() && h.health->state() != HealthState::unchecked;
      case Set::none: break;
    }
    return false;
  };
  std::vector<size_t> candidates;
  candidates.reserve(hosts.size());
  for (int round = 0; round < 2 && candidates.empty(); round++) {
    if (round == 1) tried.clear();  // every candidate was tried: go round again
    for (size_t i = 0; i < hosts.size(); i++) {
      if (in_set(i) && !tried.has(hosts[i].get())) candidates.push_back(i);
    }
  }
  if (candidates.empty()) return nullptr;
  const size_t k = candidates.size();
  auto weight = [&](size_t i) { return static_cast<int64_t>(hosts[i]->endpoint->weight()); };
  auto load = [&](size_t i) {
    return hosts[i]->health->active.load(std::memory_order_relaxed) + 1;
  };
  size_t chosen = candidates[0];
  switch (config_.balance) {
    case conf::Balance::round_robin: {
      // Smooth weighted round robin (nginx): each candidate gains its weight, the one with
      // the most goes and gives back the total. Equal weights take turns.
      sched::SpinGuard g(pick_lock_);
      int64_t total = 0;
      Host* best = nullptr;
      for (const size_t i : candidates) {
        Host& h = *hosts[i];
        h.current_weight += weight(i);
        total += weight(i);
        if (best == nullptr || h.current_weight > best->current_weight) {
          best = &h;
          chosen = i;
        }
      }
      best->current_weight -= total;
      break;
    }
    case conf::Balance::least_connections: {
      // The fewest open connections per unit of weight, counting the one about to open
      // ((active + 1) / weight: with none open, the heaviest goes first); among equals,
      // take turns.
      const size_t start = rr_.fetch_add(1, std::memory_order_relaxed) % k;
      chosen = candidates[start];
      for (size_t j = 1; j < k; j++) {
        const size_t c = candidates[(start + j) % k];
        if (load(c) * weight(chosen) < load(chosen) * weight(c)) chosen = c;
      }
      break;
    }
    case conf::Balance::power_of_two: {
      if (k == 1) break;
      const size_t a = candidates[random() % k];
      size_t b = candidates[random() % (k - 1)];
      if (b == a) b = candidates[k - 1];  // two distinct choices
      chosen = load(a) * weight(b) <= load(b) * weight(a) ? a : b;
      break;
    }
  }
  return hosts[chosen];
}

bool ClusterState::may_eject() const {
  const int percent = config_.outlier.max_ejected_percent;
  if (percent <= 0) return false;
  const auto snap = snapshot();
  size_t ejected = 0;
  for (const auto& h : *snap) ejected += h->health->state() == HealthState::ejected;
  const size_t limit = std::max<size_t>(1, snap->size() * static_cast<size_t>(percent) / 100);
  return ejected < limit;
}

void ClusterState::connect_failed(Host& host, std::string_view why) {
  host.health->connect_failed(why, config_.outlier, may_eject());
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
  if (changed) rebuild_hosts();
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
  if (!checks_on()) return;
  // The first check of every host not checked yet, all at once, within one timeout.
  const conf::HealthCheck& hc = *config_.health_check;
  for (const auto& h : hosts()) {
    if (h->health->state() != HealthState::unchecked) continue;
    wg.add(1);
    go([h, &hc, &wg] {
      const std::string why = run_health_check(h->address, hc);
      if (why.empty()) {
        h->health->check_passed(hc);
      } else {
        h->health->check_failed(why, hc);
      }
      wg.done();
    });
  }
  wg.wait();
}

void ClusterState::start() {
  sched::SpinGuard g(hosts_lock_);
  if (started_) return;
  started_ = true;
  if (checks_on()) {
    for (const auto& h : *hosts_) start_checker(h);
  }
  const bool any_dns = std::any_of(endpoints_.begin(), endpoints_.end(),
                                   [](const auto& e) { return e->is_dns_name(); });
  if (any_dns) {
    background_.add(1);
    go([this] {
      refresh_loop();
      background_.done();
    });
  }
}

void ClusterState::start_checker(const std::shared_ptr<Host>& host) {
  auto stop = std::make_shared<Notification>();
  checkers_[host->health.get()] = stop;
  background_.add(1);
  go([this, host, stop]() mutable {
    check_loop(std::move(host), std::move(stop));
    background_.done();
  });
}

// One host's checks, one at a time: every interval, moved by up to `jitter` percent. The
// first waits a random part of an interval, so that the checks of many hosts spread out.
void ClusterState::check_loop(std::shared_ptr<Host> host, std::shared_ptr<Notification> stop) {
  const conf::HealthCheck& hc = *config_.health_check;
  const Duration interval = hc.interval;
  // A random duration in [0, span), for the first wait and the jitter.
  auto below = [this](Duration span) {
    return span > Duration::zero() ? Duration(random() % static_cast<uint64_t>(span.count()))
                                   : Duration::zero();
  };
  Duration wait = below(interval);
  for (;;) {
    if (stop->wait_for(wait) || stop_.has_been_notified()) return;
    const std::string why = run_health_check(host->address, hc);
    if (why.empty()) {
      host->health->check_passed(hc);
    } else {
      host->health->check_failed(why, hc);
    }
    const Duration spread = interval * hc.jitter / 100;
    wait = interval - spread + below(2 * spread + Duration(1));
  }
}

void ClusterState::refresh_loop() {
  const Duration every = config_.dns_refresh;
  for (;;) {
    bool unresolved = false;
    for (auto& ep : endpoints_)
      unresolved = unresolved || (ep->is_dns_name() && !ep->has_address());
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
  {
    sched::SpinGuard g(hosts_lock_);
    for (auto& [health, stop] : checkers_) stop->notify();
    checkers_.clear();
  }
  background_.wait();
}

}  // namespace parkway::proxy
