// A listener at run time: its socket, and the goroutine that accepts on it and starts a
// goroutine per connection.
//
// max_connections is enforced by not accepting: when the listener has that many open
// connections, its goroutine waits for one to close, and new clients wait in the
// kernel's accept queue (the backlog) meanwhile. It never accepts a connection only to
// close it. Out of descriptors (EMFILE and friends), it backs off (5 ms, doubling to 1 s)
// instead of spinning, and logs the condition at most once a second.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "conf/config.h"
#include "netpoll/socket.h"
#include "proxy/cluster.h"
#include "proxy/connection.h"
#include "proxy/stats.h"
#include "scheduler/channel.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

// What connections need from the server that runs them.
struct ServerHooks {
  ConnectionRegistry& registry;
  WaitGroup& connections;  // one count per connection goroutine
};

class ListenerState : public std::enable_shared_from_this<ListenerState> {
 public:
  ListenerState(conf::Listener config, net::Listener socket, std::shared_ptr<ClusterState> cluster,
                ServerHooks hooks);

  // Starts accepting (one goroutine).
  void start();
  // Stops accepting and closes the socket; open connections go on. Waits for the accept
  // goroutine to end.
  void stop();
  // A reload kept this listener (same address): new name, limits and cluster apply to
  // connections accepted from now on.
  void update(const conf::Listener& config, std::shared_ptr<ClusterState> cluster);
  // listen(2) again with a new backlog (the kernel allows it on a listening socket).
  void set_backlog(int backlog);

  conf::Listener config() const;
  std::shared_ptr<ClusterState> cluster() const;
  net::SocketAddress bound_address() const { return bound_; }
  int64_t active() const { return active_.load(); }
  ListenerCounters counters;

 private:
  void accept_loop();
  void connection_done();

  mutable sched::SpinLock lock_;
  conf::Listener config_ PW_GUARDED_BY(lock_);
  std::shared_ptr<ClusterState> cluster_ PW_GUARDED_BY(lock_);
  net::Listener socket_;
  net::SocketAddress bound_;
  ServerHooks hooks_;
  std::atomic<int64_t> active_{0};
  std::atomic<int64_t> limit_;
  std::atomic<bool> stopping_{false};
  Channel<int> slot_freed_{1};  // a coalesced "a connection closed" signal
  Notification stopped_;
  bool started_ = false;
};

}  // namespace parkway::proxy
