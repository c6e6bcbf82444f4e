// The admin endpoint: a small HTTP/1.1 server on its own socket and goroutines.
//
//   GET /metrics   Prometheus text format (proxy/metrics.cpp)
//   GET /ready     200 once the listeners are bound, 503 while draining
//   GET /live      200 while the runtime schedules goroutines (this answer is one)
//   GET /config    the running configuration as TOML
//
// One request per connection, strictly limited (8 KiB of request, 5 s to send it, GET
// only); anything else gets a proper 4xx. It has its own connection limit, so it stays
// reachable when the data listeners are saturated. No authentication: bind it to
// loopback or keep it behind a firewall.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "netpoll/socket.h"
#include "scheduler/channel.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class AdminServer {
 public:
  struct Routes {
    std::function<std::string()> metrics;
    std::function<bool()> ready;
    std::function<std::string()> config;
  };

  AdminServer(net::Listener socket, int max_connections, Routes routes);
  ~AdminServer();

  void start();
  // Stops accepting and waits for the requests in progress.
  void stop();
  net::SocketAddress address() const { return address_; }

 private:
  void accept_loop();
  void serve(net::Conn conn);
  std::string respond(const std::string& method, const std::string& target);

  net::Listener socket_;
  net::SocketAddress address_;
  Semaphore slots_;
  Routes routes_;
  WaitGroup open_;
  Notification stopped_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace parkway::proxy
