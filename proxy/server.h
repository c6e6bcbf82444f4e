// The server: what `parkway` runs. It owns the listeners, the clusters and the open
// connections of one configuration, and reacts to signals:
//
//   SIGHUP           reload: read the configuration again and apply it without dropping
//                    a connection; an invalid file or a failed bind keeps the running
//                    configuration entirely, and says why
//   SIGTERM, SIGINT  drain: stop accepting, let open connections finish for up to
//                    drain_timeout, then close the rest; exit 0. A second signal exits at
//                    once.
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
#include "proxy/cluster.h"
#include "proxy/connection.h"
#include "proxy/listener.h"
#include "proxy/resolver.h"
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
  void start_drain();
  void log_listening(const ListenerState& l, const char* verb);

  conf::CommandLine command_line_;
  conf::Config config_;
  Resolver resolver_;
  ConnectionRegistry registry_;
  WaitGroup connections_;
  Clusters clusters_;
  std::vector<std::shared_ptr<ListenerState>> listeners_;
  Channel<int> events_{16};  // signals, and kDrained
  bool draining_ = false;
};

}  // namespace parkway::proxy
