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
//
// It also stays reachable when the process is out of descriptors (RLIMIT_NOFILE), which
// is when its metrics matter most: it keeps one descriptor in reserve (/dev/null, opened
// at start), and when accept fails for lack of descriptors while an admin client is
// waiting, it closes the reserve and accepts into that slot. That client is served, and
// the reserve is taken back when it is done. Best effort: a data listener may take the
// freed slot first, and then the reserve comes back as soon as a descriptor frees up.
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
  // The reserve descriptor: take it (if not held), give it up for an accept.
  void reserve_descriptor();
  bool release_descriptor();
  bool client_waiting();
  std::string respond(const std::string& method, const std::string& target);

  net::Listener socket_;
  net::SocketAddress address_;
  Semaphore slots_;
  Routes routes_;
  WaitGroup open_;
  Notification stopped_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::atomic<int> reserve_{-1};  // the reserve descriptor, or -1 (in use, or not to be had)
};

}  // namespace parkway::proxy
