// Routing by server name: which of a listener's routes a ClientHello's name goes to.
//
// Each route lists server-name patterns (conf/server_name.h): exact names and wildcards
// "*.example.com", which match one or more labels in front of example.com (a.example.com
// and a.b.example.com, never example.com itself), as nginx's server_name and Envoy's
// server_names do. A name is looked up in this order:
//   1. an exact pattern equal to it;
//   2. the wildcard with the longest suffix that matches: for "a.b.example.com",
//      "*.b.example.com", then "*.example.com", then "*.com";
//   3. no route: the listener's default cluster.
// So exact names win over wildcards, and a more specific wildcard over a broader one,
// whatever order the routes are written in. A pattern listed by two routes is a config
// error (conf's validation reports it); given one anyway, the earlier route keeps it.
// Names compare case-insensitively.
//
// Lookups are binary searches over sorted patterns: O(labels * log patterns), no
// allocation. The table is immutable once built, so any number of goroutines may look up
// at once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/server_name.h"

namespace parkway::proxy::wire {

class ServerNameRoutes {
 public:
  struct Entry {
    conf::ServerNamePattern pattern;
    std::size_t route = 0;  // the route's index in the listener's list
  };

  ServerNameRoutes() = default;
  explicit ServerNameRoutes(const std::vector<Entry>& entries);

  // The route for `name` (a host name, either case), or none.
  std::optional<std::size_t> match(std::string_view name) const;
  bool empty() const { return exact_.empty() && wildcard_.empty(); }

 private:
  struct Key {
    std::string name;  // lower case
    std::size_t route;
  };
  static std::optional<std::size_t> find(const std::vector<Key>& keys, std::string_view name);

  std::vector<Key> exact_;     // sorted by name, unique
  std::vector<Key> wildcard_;  // sorted by suffix (what follows "*."), unique
};

}  // namespace parkway::proxy::wire
