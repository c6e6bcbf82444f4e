// The admin endpoint: a small HTTP/1.1 server on its own socket and goroutines.
//
//   GET /metrics   Prometheus text format (proxy/metrics.cpp)
//   GET /ready     200 once the listeners are bound, 503 while draining
//   GET /live      200 while the runtime schedules goroutines (this answer is one)
//   GET /config    the running configuration as TOML
//   GET /clusters  every cluster, endpoint and address with its health, as JSON
//                  (?format=text: a table; proxy/ops/clusters.h)
//
// One request per connection, strictly limited (8 KiB of request, 5 s to send it, GET
// only); anything else gets a proper 4xx. It has its own connection limit, so it stays
// reachable when the data listeners are saturated. No authentication: bind it to
// loopback or keep it behind a firewall.
//
// It also stays reachable when the process is out of descriptors (RLIMIT_NOFILE), which
// is when its metrics matter most: its accept loop keeps a descriptor in reserve
// (proxy/accept_loop.h).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "netpoll/socket.h"
#include "proxy/accept_loop.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class AdminServer {
 public:
  struct Routes {
    std::function<std::string()> metrics;
    std::function<bool()> ready;
    std::function<std::string()> config;
    std::function<std::string(bool text)> clusters;
  };

  AdminServer(net::Listener socket, int max_connections, Routes routes);
  ~AdminServer();

  void start();
  // Stops accepting and waits for the requests in progress.
  void stop();
  net::SocketAddress address() const { return address_; }

 private:
  class Request;
  void serve(net::Conn conn);
  std::string respond(const std::string& method, const std::string& target);

  Routes routes_;
  net::SocketAddress address_;
  WaitGroup open_;  // requests being served
  std::shared_ptr<AcceptLoop> loop_;
  bool stopped_ = false;
};

}  // namespace parkway::proxy
