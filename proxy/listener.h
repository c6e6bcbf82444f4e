// A data listener at run time: its socket and accept loop (proxy/accept_loop.h), its
// configuration, and the cluster its connections go to. Every accepted connection is a
// Connection (proxy/connection.h) served on the goroutine the accept loop starts for it.
//
// A reload that keeps the listener (same address) gives it a new name, limit and cluster
// for the connections accepted from then on (update); open connections keep theirs.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "conf/config.h"
#include "netpoll/socket.h"
#include "proxy/accept_loop.h"
#include "proxy/cluster.h"
#include "proxy/connection.h"
#include "proxy/stats.h"
#include "scheduler/lock.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

// What connections need from the server that runs them.
struct ServerHooks {
  ConnectionRegistry& registry;
  WaitGroup& connections;             // one count per connection goroutine
  ConnectionLimit* budget = nullptr;  // the process's connection slots (descriptor_budget.h)
};

class ListenerState {
 public:
  ListenerState(conf::Listener config, net::Listener socket, std::shared_ptr<ClusterState> cluster,
                ServerHooks hooks);
  ~ListenerState();

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
  int64_t active() const { return loop_->active(); }
  const ListenerCounters& counters() const { return loop_->counters; }

 private:
  std::unique_ptr<Accepted> make(net::Conn conn, const net::SocketAddress& peer);

  mutable sched::SpinLock lock_;
  conf::Listener config_ PW_GUARDED_BY(lock_);
  std::shared_ptr<ClusterState> cluster_ PW_GUARDED_BY(lock_);
  net::SocketAddress bound_;
  ServerHooks hooks_;
  std::shared_ptr<AcceptLoop> loop_;
};

}  // namespace parkway::proxy
