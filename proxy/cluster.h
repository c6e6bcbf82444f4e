// A cluster at run time: its endpoints with their resolved addresses and load, the
// balancing policy that picks one for each new connection, and DNS re-resolution.
//
// A ClusterState is shared (std::shared_ptr) by the listeners that use it and by every
// connection it serves, so a reload can swap in a new one for new connections while old
// connections finish on the old one.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "netpoll/address.h"
#include "proxy/resolver.h"
#include "proxy/stats.h"
#include "scheduler/internal/futex.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class EndpointState {
 public:
  explicit EndpointState(conf::Endpoint endpoint);

  const conf::Endpoint& config() const { return config_; }
  const std::string& name() const { return name_; }  // "10.0.0.5:80", "redis-a:6379"
  bool is_dns_name() const { return config_.kind == conf::Endpoint::Kind::dns_name; }

  bool has_address() const { return has_address_.load(std::memory_order_acquire); }
  // The next of its addresses, in turn (a name may resolve to several).
  std::optional<net::SocketAddress> next_address();
  std::vector<net::SocketAddress> addresses() const;
  // Returns whether the set changed.
  bool set_addresses(std::vector<net::SocketAddress> addresses);

  std::atomic<int64_t> active{0};  // connections open or connecting to it
  bool resolve_failing = false;    // owned by the cluster's DNS goroutine: log once
  EndpointCounters counters;

 private:
  const conf::Endpoint config_;
  const std::string name_;
  mutable sched::SpinLock lock_;
  std::vector<net::SocketAddress> addresses_ PW_GUARDED_BY(lock_);
  size_t next_ PW_GUARDED_BY(lock_) = 0;
  std::atomic<bool> has_address_{false};
};

class ClusterState {
 public:
  ClusterState(conf::Cluster config, Resolver& resolver);
  ~ClusterState();

  const conf::Cluster& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  std::vector<std::unique_ptr<EndpointState>>& endpoints() { return endpoints_; }

  // Picks an endpoint for a connection by the cluster's policy, among those with an
  // address that are not marked in `tried` (a retry goes elsewhere); when every endpoint
  // with an address has been tried, among all of them. nullptr if none has an address.
  EndpointState* pick(const std::vector<bool>& tried);

  // Resolves every DNS endpoint once (in parallel, from a goroutine), logging failures.
  void resolve_now();
  // Starts the goroutine that re-resolves DNS endpoints every dns_refresh (and retries
  // names that never resolved). stop() ends it and waits for it.
  void start_refresh();
  void stop();

  ClusterCounters counters;

 private:
  bool resolve_endpoint(EndpointState& ep, bool initial);
  void refresh_loop();
  uint64_t random();

  const conf::Cluster config_;
  Resolver& resolver_;
  std::vector<std::unique_ptr<EndpointState>> endpoints_;
  std::atomic<uint64_t> rr_{0};
  std::atomic<uint64_t> rng_;
  Notification stop_;
  WaitGroup refresher_;
  bool refreshing_ = false;
};

}  // namespace parkway::proxy
