// The server: what `parkway` runs. It owns the listeners, the clusters and the open
// connections of one configuration, and reacts to signals:
//
//   SIGHUP           reload: read the configuration again and apply it without dropping
//                    a connection; an invalid file or a failed bind keeps the running
//                    configuration entirely, and says why
//   SIGTERM, SIGINT  drain: stop accepting, let open connections finish for up to
//                    drain_timeout, then close the rest; exit 0. A second signal exits at
//                    once.
//   SIGUSR1          reopen the access log file (after logrotate moved it)
//
// Under systemd it tells the service manager where it is (READY=1 once listening,
// RELOADING=1 then READY=1 around a reload, STOPPING=1 when draining, STATUS= with the
// open connections), pings the watchdog from a goroutine (a wedged scheduler stops the
// pings, and systemd restarts it), and adopts the listening sockets of socket activation
// whose names match its listeners.
//
// Reload, in detail: a listener whose address is unchanged keeps its socket (so no client
// is refused during the reload) and takes its new settings; new listeners bind before
// anything changes; removed listeners stop accepting while their connections finish.
// Clusters apply to new connections; open connections keep the cluster they started
// with. A cluster whose settings did not change is kept as it is (its DNS answers and
// load counters too).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/cli.h"
#include "conf/config.h"
#include "proxy/admin.h"
#include "proxy/cluster.h"
#include "proxy/connection.h"
#include "proxy/listener.h"
#include "proxy/resolver.h"
#include "proxy/systemd.h"
#include "scheduler/channel.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class Server {
 public:
  Server(conf::CommandLine command_line, conf::Config config);
  ~Server();

  // Runs until drained; returns the process exit code. Call from the main goroutine.
  int run();

 private:
  using Clusters = std::map<std::string, std::shared_ptr<ClusterState>>;

  Clusters make_clusters(const conf::Config& config, const Clusters* reuse);
  bool start();
  void reload();
  bool apply_reload(const conf::Config& next);
  void start_drain();
  void log_listening(const ListenerState& l, const char* verb);
  net::Result<net::Listener> listener_socket(const conf::Listener& l);
  std::unique_ptr<AdminServer> make_admin(const conf::Config& config, std::string* error);
  void start_background();
  std::string status_line();

  // For the admin endpoint (metrics.cpp).
  std::string render_metrics();
  std::string render_config();

  conf::CommandLine command_line_;
  conf::Config config_;
  Resolver resolver_;
  ConnectionRegistry registry_;
  WaitGroup connections_;
  // listeners_, clusters_ and config_ change only in the main goroutine (start, reload),
  // under state_mu_; the admin goroutines read them under it.
  Mutex state_mu_;
  Clusters clusters_;
  std::vector<std::shared_ptr<ListenerState>> listeners_;
  std::unique_ptr<AdminServer> admin_;
  std::vector<systemd::InheritedSocket> inherited_;  // socket activation, until adopted
  Channel<int> events_{16};  // signals, and kDrained
  bool draining_ = false;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> reloads_succeeded_{0};
  std::atomic<uint64_t> reloads_failed_{0};
  Notification stop_background_;
  WaitGroup background_;  // the watchdog and status goroutines
  const Time started_ = now();
};

}  // namespace parkway::proxy
