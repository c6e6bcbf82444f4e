// -L forwards into listeners and clusters; see conf/forward.h.
#include "conf/forward.h"

#include <algorithm>
#include <unordered_set>

#include "conf/keys.h"

namespace parkway::conf {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `text` split at the colons that are not inside brackets ("[::1]:80" is two fields).
std::vector<std::string_view> colon_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[') ++depth;
    if (text[i] == ']' && depth > 0) --depth;
    if (text[i] == ':' && depth == 0) {
      fields.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  fields.push_back(text.substr(start));
  return fields;
}

}  // namespace

std::string from_ssh_form(std::string_view spec) {
  const std::vector<std::string_view> fields = colon_fields(spec);
  if (fields.size() != 3 && fields.size() != 4) return {};
  const std::size_t n = fields.size();
  const std::string_view port = fields[n - 3];
  const std::string_view host = fields[n - 2];
  const std::string_view host_port = fields[n - 1];
  if (!all_digits(port) || !all_digits(host_port) || host.empty()) return {};
  std::string listen(port);
  if (n == 4) {
    // ssh's bind address: "localhost" is loopback (our port alone), "" and "*" are every
    // interface.
    const std::string_view bind = fields[0];
    if (bind == "" || bind == "*")
      listen = "0.0.0.0:" + listen;
    else if (bind != "localhost")
      listen = std::string(bind) + ":" + listen;
  }
  return listen + "=" + std::string(host) + ":" + std::string(host_port);
}

Parsed<Forward> parse_forward(std::string_view spec) {
  const std::size_t equals = spec.find('=');
  if (equals == std::string_view::npos) {
    if (const std::string meant = from_ssh_form(spec); !meant.empty()) {
      return Parsed<Forward>::failure("expected LISTEN=UPSTREAM, with '=' where ssh -L writes ':'",
                                      "did you mean " + meant + "?");
    }
    return Parsed<Forward>::failure(
        R"(expected LISTEN=UPSTREAM[,UPSTREAM...] such as "8080=10.0.0.5:80")");
  }
  const std::string_view listen = spec.substr(0, equals);
  const std::string_view upstreams = spec.substr(equals + 1);

  Forward forward;
  forward.spec = std::string(spec);
  const bool port_only = all_digits(listen);
  // A bare port binds loopback: exposing a port to the network must be asked for.
  Parsed<ListenAddress> address =
      parse_listen_address(port_only ? "127.0.0.1:" + std::string(listen) : std::string(listen));
  if (!address.ok()) {
    return Parsed<Forward>::failure(
        "listen address \"" + std::string(listen) + "\": " + address.expected(),
        port_only ? "" : "a port alone, such as 8080, binds 127.0.0.1 and ::1");
  }
  forward.listen = address.value();
  forward.ipv6_loopback_too = port_only && forward.listen.port != 0;
  if (upstreams.empty()) {
    return Parsed<Forward>::failure(R"(expected at least one upstream "host:port" after '=')");
  }
  Parsed<std::vector<Endpoint>> endpoints = parse_endpoint_list(upstreams);
  if (!endpoints.ok()) return Parsed<Forward>::failure(endpoints.expected());
  forward.upstreams = std::move(endpoints.value());
  return forward;
}

ForwardsConfig config_from_forwards(const std::vector<Forward>& forwards, bool ipv6_loopback) {
  ForwardsConfig out;
  Config& config = out.config;
  config = default_config(Origin::forwards);
  config.source = "command line";
  std::unordered_set<std::string> names;
  for (std::size_t index = 0; index < forwards.size(); ++index) {
    const Forward& forward = forwards[index];
    const std::string base = "fwd-" + std::to_string(forward.listen.port);
    std::string name = base;
    for (int suffix = 2; names.contains(name); ++suffix) name = base + "-" + std::to_string(suffix);
    names.insert(name);

    Listener listener = defaults<Listener>(Origin::forwards);
    listener.name = name;
    listener.address = forward.listen;
    listener.cluster = name;
    config.listeners.push_back(listener);
    out.listener_forward.push_back(index);
    if (forward.ipv6_loopback_too && ipv6_loopback) {
      listener.name = name + "-v6";
      listener.address = ListenAddress{};
      listener.address.family = AddressFamily::ipv6;
      listener.address.bytes[15] = 1;  // ::1
      listener.address.port = forward.listen.port;
      config.listeners.push_back(std::move(listener));
      out.listener_forward.push_back(index);
    }

    Cluster cluster = defaults<Cluster>(Origin::forwards);
    cluster.name = name;
    cluster.endpoints = forward.upstreams;
    config.clusters.push_back(std::move(cluster));
    out.cluster_forward.push_back(index);
  }
  return out;
}

}  // namespace parkway::conf
