// The server: what `parkway` runs, and the one place that sees both the data path
// (listeners, clusters, connections) and operations (proxy/ops/: the admin endpoint,
// metrics, systemd, signals). It owns the listeners, the clusters and the open
// connections of one configuration, and reacts to signals:
//
//   SIGHUP           reload: read the configuration again and apply it without dropping
//                    a connection; an invalid file or a failed bind keeps the running
//                    configuration entirely, and says why. The file is read in a child
//                    process (proxy/ops/config_child.h), on a goroutine of its own: the
//                    main goroutine goes on reading signals meanwhile, so a slow or stuck
//                    reload never delays a drain.
//   SIGTERM, SIGINT  drain: stop accepting, let open connections finish for up to
//                    drain_timeout, then close the rest; exit 0. A second signal exits at
//                    once (128 + the signal), from the signal thread, whatever the
//                    goroutines are doing; so does the end of the drain plus a grace
//                    period, should the process still be there (exit 1).
//   SIGUSR1          reopen the access log file (after logrotate moved it)
//
// Under systemd it tells the service manager where it is (READY=1 once listening,
// RELOADING=1 then READY=1 around a reload, STOPPING=1 when draining, STATUS= with the
// open connections), pings the watchdog from a goroutine (a wedged scheduler stops the
// pings, and systemd restarts it), and adopts the listening sockets of socket activation
// whose names match its listeners.
//
// Starting is applying the configuration to an empty server; a reload applies the new
// one to the running server, the same way (apply()). A listener whose address is
// unchanged keeps its socket (so no client is refused during the reload) and takes its
// new settings; new listeners bind before anything changes; removed listeners stop
// accepting while their connections finish. Clusters apply to new connections; open
// connections keep the cluster they started with. A cluster whose settings did not
// change is kept as it is (its DNS answers and load counters too).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/cli.h"
#include "conf/config.h"
#include "proxy/cluster.h"
#include "proxy/connection.h"
#include "proxy/descriptor_budget.h"
#include "proxy/listener.h"
#include "proxy/ops/admin.h"
#include "proxy/ops/config_child.h"
#include "proxy/ops/metrics.h"
#include "proxy/ops/signals.h"
#include "proxy/ops/systemd.h"
#include "proxy/resolver.h"
#include "scheduler/channel.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class Server {
 public:
  // `events` is where `signals` sends the signals; both outlive the server (main() makes
  // them before the runtime, so that a process that hangs on its way out still ends).
  Server(conf::CommandLine command_line, conf::Config config, Channel<int>& events,
         SignalThread& signals);
  ~Server();

  // Runs until drained; returns the process exit code. Call from the main goroutine.
  int run();

 private:
  using Clusters = std::map<std::string, std::shared_ptr<ClusterState>>;

  bool apply(const conf::Config& next, Clusters clusters);
  Clusters make_clusters(const conf::Config& next);
  void stop_unused(const Clusters& clusters);
  net::Result<net::Listener> listener_socket(const conf::Listener& l);
  std::unique_ptr<AdminServer> make_admin(const conf::Config& config, std::string* error);
  void start_reload();
  void finish_reload();
  void start_drain(int sig);
  [[noreturn]] void force_exit(int sig);
  void start_background();
  std::string status_line();
  ServerSnapshot snapshot();

  conf::CommandLine command_line_;
  const conf::Config initial_;  // what run() starts with
  Resolver resolver_;
  ConnectionRegistry registry_;
  WaitGroup connections_;
  DescriptorBudget budget_;
  // listeners_, clusters_ and config_ change only in the main goroutine (apply), under
  // state_mu_; the admin goroutines read them under it.
  Mutex state_mu_;
  conf::Config config_;   // the running configuration
  bool applied_ = false;  // once the first apply() succeeded
  Clusters clusters_;
  std::vector<std::shared_ptr<ListenerState>> listeners_;
  std::unique_ptr<AdminServer> admin_;
  std::vector<systemd::InheritedSocket> inherited_;  // socket activation, until adopted
  Channel<int>& events_;                             // signals, kDrained, kReloadLoaded
  SignalThread& signals_;
  bool draining_ = false;
  // A reload: the goroutine that checks the file hands its result to the main goroutine.
  bool reloading_ = false;
  bool reload_again_ = false;  // a SIGHUP came while reloading
  Mutex reload_mu_;
  std::optional<ChildLoad> reload_loaded_ PW_GUARDED_BY(reload_mu_);
  Clusters reload_clusters_ PW_GUARDED_BY(reload_mu_);
  WaitGroup reload_running_;          // the reload's goroutine, joined by ~Server
  std::atomic<bool> exiting_{false};  // set by ~Server: a reload under way gives up
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> reloads_succeeded_{0};
  std::atomic<uint64_t> reloads_failed_{0};
  Notification stop_background_;
  WaitGroup background_;  // the watchdog and status goroutines
  const Time started_ = now();
};

}  // namespace parkway::proxy
