// What a reload changes, in words: the meaning of the difference between two configs, not
// a text diff. One line per change, in the order of the file's tables:
//
//   runtime: log_level info -> debug
//   listener "app": max_connections 10000 -> 20000
//   listener "old": removed (127.0.0.1:7000)
//   listener "new": added (127.0.0.1:7001 -> cluster "db")
//   cluster "db": endpoint 10.0.0.9:5432 added
//   cluster "db": endpoint 10.0.0.7:5432 removed
//   cluster "db": endpoint 10.0.0.5:5432 weight 1 -> 3
//   cluster "db": health_check added (interval 2s, timeout 1s, ...)
//   cluster "db": health_check.interval 2s -> 5s
//
// Listeners and clusters are matched by name. The running server logs these at every
// reload (with what drains, which only it knows); `parkway --check-config --diff` prints
// them against a running process without changing it.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace parkway::conf {

struct Change {
  std::string text;
  // For an endpoint removed from a cluster that stays: the cluster and the endpoint
  // ("10.0.0.7:5432"), so that the server can say how many connections drain.
  std::string cluster, removed_endpoint;
};

std::vector<Change> diff(const Config& before, const Config& after);

}  // namespace parkway::conf
