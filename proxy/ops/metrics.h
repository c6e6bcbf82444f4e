// GET /metrics: every family of proxy/stats.h, rendered from a snapshot the server hands
// out. The metrics read the running objects through this narrow view (the listeners and
// clusters of the moment, and a few process-wide values), never the server itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/cluster.h"
#include "proxy/descriptor_budget.h"
#include "proxy/listener.h"
#include "scheduler/time.h"

namespace parkway::proxy {

struct ServerSnapshot {
  std::vector<std::shared_ptr<ListenerState>> listeners;
  std::vector<std::shared_ptr<ClusterState>> clusters;  // in name order
  bool ready = false;
  uint64_t reloads_succeeded = 0;
  uint64_t reloads_failed = 0;
  Duration uptime{};
  size_t open_connections = 0;
  DescriptorBudget::Shares descriptors;
};

std::string render_metrics(const ServerSnapshot& s);

}  // namespace parkway::proxy
