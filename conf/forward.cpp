// -L forwards into listeners and clusters; see conf/forward.h.
#include "conf/forward.h"

#include <algorithm>
#include <unordered_set>

#include "conf/keys.h"

namespace parkway::conf {

Parsed<Forward> parse_forward(std::string_view spec) {
  const std::size_t equals = spec.find('=');
  if (equals == std::string_view::npos) {
    return Parsed<Forward>::failure(
        R"(expected LISTEN=UPSTREAM[,UPSTREAM...] such as "8080=10.0.0.5:80")");
  }
  const std::string_view listen = spec.substr(0, equals);
  const std::string_view upstreams = spec.substr(equals + 1);

  Forward forward;
  forward.spec = std::string(spec);
  const bool port_only = !listen.empty() && std::all_of(listen.begin(), listen.end(),
                                                         [](char c) { return c >= '0' && c <= '9'; });
  // A bare port binds loopback: exposing a port to the network must be asked for.
  Parsed<ListenAddress> address =
      parse_listen_address(port_only ? "127.0.0.1:" + std::string(listen) : std::string(listen));
  if (!address.ok()) {
    return Parsed<Forward>::failure("listen address \"" + std::string(listen) + "\": " + address.expected(),
                                    port_only ? "" : "a port alone, such as 8080, binds 127.0.0.1");
  }
  forward.listen = address.value();
  if (upstreams.empty()) {
    return Parsed<Forward>::failure(R"(expected at least one upstream "host:port" after '=')");
  }
  Parsed<std::vector<Endpoint>> endpoints = parse_endpoint_list(upstreams);
  if (!endpoints.ok()) return Parsed<Forward>::failure(endpoints.expected());
  forward.upstreams = std::move(endpoints.value());
  return forward;
}

Config config_from_forwards(const std::vector<Forward>& forwards) {
  Config config = default_config();
  config.source = "command line";
  std::unordered_set<std::string> names;
  for (const Forward& forward : forwards) {
    const std::string base = "fwd-" + std::to_string(forward.listen.port);
    std::string name = base;
    for (int suffix = 2; names.contains(name); ++suffix) name = base + "-" + std::to_string(suffix);
    names.insert(name);

    Listener listener = defaults<Listener>();
    listener.name = name;
    listener.address = forward.listen;
    listener.cluster = name;
    config.listeners.push_back(std::move(listener));

    Cluster cluster = defaults<Cluster>();
    cluster.name = name;
    cluster.endpoints = forward.upstreams;
    config.clusters.push_back(std::move(cluster));
  }
  return config;
}

}  // namespace parkway::conf
