// A cluster at run time: its endpoints, the hosts they resolve to with their health
// (proxy/health.h), the balancer that picks a host for each connection attempt, DNS
// re-resolution and the active health checks.
//
// Hosts. Every address an endpoint resolves to is a host of its own, with the endpoint's
// weight and backup flag. The list of hosts is rebuilt when addresses change (DNS) and
// read by the balancer through a shared snapshot, so a pick never waits for a refresh.
//
// The balancer picks, for each connection attempt, among the hosts the connection has not
// tried yet (a retry goes elsewhere):
//   1. the healthy primary hosts, while at least panic_threshold percent of the primaries
//      are healthy;
//   2. else, the healthy backup hosts, if there are any;
//   3. else, in panic mode (logged, and the gauge parkway_cluster_panic), every primary
//      that has been checked at least once, healthy or not: a cluster mostly "down" is
//      more likely a broken check than broken servers.
// Within that set: round_robin is smooth weighted round robin (nginx's), least_connections
// takes the fewest open connections per unit of weight, power_of_two the less loaded (per
// weight) of two picked at random. When every host was tried, the connection goes round
// again.
//
// A ClusterState is shared (std::shared_ptr) by the listeners that use it and by every
// connection it serves, so a reload can swap in a new one for new connections while old
// connections finish on the old one. A new state made for a reload takes over the
// HostHealth of every address the old one had (health, ejections and counts stay), and the
// hosts a reload or a DNS change removes while connections to them are open are kept as
// draining until those end.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "netpoll/address.h"
#include "proxy/health.h"
#include "proxy/log/log.h"
#include "proxy/resolver.h"
#include "proxy/stats.h"
#include "scheduler/lock.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class EndpointState;

// One address of an endpoint.
struct Host {
  EndpointState* endpoint;  // of the cluster state that made the host (nullptr once draining
                            // from a previous state)
  std::string endpoint_name;
  net::SocketAddress address;
  std::shared_ptr<HostHealth> health;
  int64_t current_weight = 0;  // smooth weighted round robin; under the cluster's pick lock
};

// The hosts one client connection has tried, so that its retries go to others. A few
// entries: at most connect_attempts.
class Tried {
 public:
  void add(const Host* host) { items_.push_back(host->health.get()); }
  bool has(const Host* host) const;
  void clear() { items_.clear(); }

 private:
  std::vector<const HostHealth*> items_;
};

class EndpointState {
 public:
  explicit EndpointState(conf::Endpoint endpoint);

  const conf::Endpoint& config() const { return config_; }
  const std::string& name() const { return name_; }  // "10.0.0.5:80", "redis-a:6379"
  bool is_dns_name() const { return config_.kind == conf::Endpoint::Kind::dns_name; }
  int weight() const { return config_.weight; }
  bool backup() const { return config_.backup; }

  bool has_address() const { return has_address_.load(std::memory_order_acquire); }
  // Its addresses as the resolver returned them (RFC 6724 order), the families
  // interleaved (RFC 8305, section 4), so that a name with IPv6 and IPv4 addresses
  // alternates between them.
  std::vector<net::SocketAddress> addresses() const;
  // Returns whether the set changed.
  bool set_addresses(std::vector<net::SocketAddress> addresses);

  std::atomic<int64_t> active{0};  // connections open or connecting to it
  bool resolve_failing = false;    // owned by the cluster's DNS goroutine: log once
  LogThrottle failure_log{std::chrono::seconds(10)};  // failed connects: one line per 10 s
  EndpointCounters counters;

 private:
  const conf::Endpoint config_;
  const std::string name_;
  mutable sched::SpinLock lock_;
  std::vector<net::SocketAddress> addresses_ PW_GUARDED_BY(lock_);  // in the order above
  std::atomic<bool> has_address_{false};
};

class ClusterState {
 public:
  // `previous`: the running state of the same name, whose hosts' health this one takes
  // over (a reload); or nullptr.
  ClusterState(conf::Cluster config, Resolver& resolver, const ClusterState* previous = nullptr);
  ~ClusterState();

  const conf::Cluster& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  std::vector<std::unique_ptr<EndpointState>>& endpoints() { return endpoints_; }
  bool checks_on() const { return config_.health_check.has_value(); }

  // The host for a connection's next attempt (see the top of the file); nullptr when no
  // endpoint has a usable address. `tried` is cleared when everything was tried.
  std::shared_ptr<Host> pick(Tried& tried);

  // What the connections report (passive ejection, proxy/health.h).
  void connect_failed(Host& host, std::string_view why);
  void connect_succeeded(Host& host) { host.health->connect_succeeded(); }

  // Resolves every DNS endpoint once (in parallel, from a goroutine), logging failures;
  // then, with active checks, runs the first check of every host (in parallel, within one
  // check's timeout), so that a cluster that starts is not trusted blindly.
  void resolve_now();
  // Starts the goroutines that re-resolve DNS endpoints every dns_refresh (and retry names
  // that never resolved) and check the hosts. stop() ends them and waits for them.
  void start();
  void stop();

  // For /clusters and the metrics: the hosts now, and those draining.
  std::vector<std::shared_ptr<Host>> hosts() const;
  std::vector<std::shared_ptr<Host>> draining() const;
  bool in_panic() const { return panic_.load(std::memory_order_relaxed); }

  ClusterCounters counters;

 private:
  using Hosts = std::vector<std::shared_ptr<Host>>;

  bool resolve_endpoint(EndpointState& ep, bool initial);
  void refresh_loop();
  void rebuild_hosts();
  void start_checker(const std::shared_ptr<Host>& host) PW_REQUIRES(hosts_lock_);
  void check_loop(std::shared_ptr<Host> host, std::shared_ptr<Notification> stop);
  std::shared_ptr<const Hosts> snapshot() const;
  std::string who(const EndpointState& ep, const net::SocketAddress& a) const;
  bool may_eject() const;
  uint64_t random();

  const conf::Cluster config_;
  Resolver& resolver_;
  std::vector<std::unique_ptr<EndpointState>> endpoints_;
  // The health of addresses, by "endpoint/address": taken over from the previous state
  // and kept for every address seen, so that an address that comes back keeps its record.
  std::map<std::string, std::shared_ptr<HostHealth>> health_ PW_GUARDED_BY(hosts_lock_);
  mutable sched::SpinLock hosts_lock_;
  std::shared_ptr<const Hosts> hosts_ PW_GUARDED_BY(hosts_lock_);
  Hosts draining_ PW_GUARDED_BY(hosts_lock_);
  std::map<const HostHealth*, std::shared_ptr<Notification>> checkers_ PW_GUARDED_BY(hosts_lock_);
  bool started_ PW_GUARDED_BY(hosts_lock_) = false;
  sched::SpinLock pick_lock_;  // the hosts' current_weight
  std::atomic<uint64_t> rr_{0};
  std::atomic<uint64_t> rng_;
  std::atomic<bool> panic_{false};
  Notification stop_;
  WaitGroup background_;  // the refresh and check goroutines
};

}  // namespace parkway::proxy
