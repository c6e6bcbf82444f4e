// Cross-key checks of a Config; the list is in conf/validate.h.
#include "conf/validate.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "conf/duration.h"
#include "conf/value.h"

namespace parkway::conf {
namespace {

std::string indexed(std::string_view section, std::size_t index) {
  return std::string(section) + "[" + std::to_string(index) + "]";
}

std::string quoted(std::string_view text) { return toml_quote(text); }

bool is_wildcard(const ListenAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.end(),
                     [](std::uint8_t b) { return b == 0; });
}

class Validator {
 public:
  Validator(const Config& config, const ValidateOptions& options)
      : config_(config), options_(options) {}

  std::vector<Diagnostic> run() {
    if (config_.listeners.empty()) {
      add(Severity::error, "listener",
          "expected at least one [[listener]] table (and the [[cluster]] it forwards to), "
          "found none");
    }
    for (const Cluster& cluster : config_.clusters) cluster_names_.insert(cluster.name);
    check_listeners();
    check_clusters();
    return std::move(out_);
  }

 private:
  // (family, port) -> the first listener on it, and the first with a wildcard address.
  struct PortUse {
    std::size_t first = 0;
    std::optional<std::size_t> wildcard;
  };
  using Ports = std::map<std::pair<AddressFamily, std::uint16_t>, PortUse>;
  struct AddressLess {
    bool operator()(const ListenAddress& a, const ListenAddress& b) const {
      return std::tie(a.family, a.bytes, a.port) < std::tie(b.family, b.bytes, b.port);
    }
  };
  using Addresses = std::map<ListenAddress, std::size_t, AddressLess>;

  void add(Severity severity, std::string key_path, std::string message) {
    Diagnostic diagnostic;
    diagnostic.severity = severity;
    diagnostic.file = config_.source;
    diagnostic.key_path = std::move(key_path);
    diagnostic.message = std::move(message);
    out_.push_back(std::move(diagnostic));
  }

  // Every check is a hash lookup, not a pairwise scan: a fuzzed file may hold 100000
  // listeners, and reading it must still finish quickly.
  void check_listeners() {
    const auto& listeners = config_.listeners;
    std::unordered_map<std::string_view, std::size_t> names;
    Ports ports;
    Addresses addresses;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      const Listener& listener = listeners[i];
      const std::string path = indexed("listener", i);
      if (!listener.name.empty()) {
        const auto [it, inserted] = names.emplace(listener.name, i);
        if (!inserted) {
          add(Severity::error, path + ".name",
              "expected a unique name, found " + quoted(listener.name) + " again (" +
                  indexed("listener", it->second) + " has it)");
        }
      }
      check_address(i, ports, addresses);
      if (options_.check_references && !listener.cluster.empty() &&
          !cluster_names_.contains(listener.cluster)) {
        add(Severity::error, path + ".cluster", missing_cluster_message(listener.cluster));
        broken_reference_ = true;
      }
    }
  }

  void check_address(std::size_t i, Ports& ports, Addresses& addresses) {
    const ListenAddress& address = config_.listeners[i].address;
    if (address.port == 0) return;  // the kernel gives each its own port
    std::optional<std::size_t> clash;
    bool same = false;
    if (const auto it = addresses.find(address); it != addresses.end()) {
      clash = it->second;
      same = true;
    } else if (const auto use = ports.find({address.family, address.port}); use != ports.end()) {
      // A wildcard overlaps every address of its family on the same port.
      if (is_wildcard(address))
        clash = use->second.first;
      else if (use->second.wildcard)
        clash = use->second.wildcard;
    }
    if (clash) {
      const Listener& other = config_.listeners[*clash];
      const std::string who =
          "listener " + quoted(other.name) + " (" + indexed("listener", *clash) + ")";
      add(Severity::error, indexed("listener", i) + ".address",
          "expected a unique listen address, found " + address.to_string() +
              (same ? ", which " + who + " uses"
                    : ", which overlaps " + other.address.to_string() + " of " + who));
      return;
    }
    addresses.emplace(address, i);
    auto& use = ports.try_emplace({address.family, address.port}, PortUse{i, {}}).first->second;
    if (is_wildcard(address) && !use.wildcard) use.wildcard = i;
  }

  std::string missing_cluster_message(const std::string& name) const {
    std::string message =
        "expected the name of a [[cluster]], found " + quoted(name) + ", which no [[cluster]] has";
    // Suggestions compare against every name: only worth it for a config a person wrote.
    if (cluster_names_.size() > 64) return message;
    std::vector<std::string_view> names;
    for (const Cluster& cluster : config_.clusters) {
      if (!cluster.name.empty()) names.push_back(cluster.name);
    }
    const std::string_view close = closest_match(name, names);
    if (!close.empty()) {
      message += "; did you mean " + quoted(close) + "?";
    } else if (names.empty()) {
      message += " (there is no [[cluster]] table)";
    } else if (names.size() <= 8) {
      message += "; expected one of " + quoted_alternatives(names);
    }
    return message;
  }

  void check_clusters() {
    const auto& clusters = config_.clusters;
    std::unordered_map<std::string_view, std::size_t> names;
    std::unordered_set<std::string_view> used;
    for (const Listener& listener : config_.listeners) used.insert(listener.cluster);
    for (std::size_t i = 0; i < clusters.size(); ++i) {
      const Cluster& cluster = clusters[i];
      const std::string path = indexed("cluster", i);
      if (!cluster.name.empty()) {
        const auto [it, inserted] = names.emplace(cluster.name, i);
        if (!inserted) {
          add(Severity::error, path + ".name",
              "expected a unique name, found " + quoted(cluster.name) + " again (" +
                  indexed("cluster", it->second) + " has it)");
        }
      }
      if (cluster.endpoints.empty()) {
        add(Severity::error, path + ".endpoints",
            "expected at least one \"host:port\", found an empty list");
      } else if (std::all_of(cluster.endpoints.begin(), cluster.endpoints.end(),
                             [](const Endpoint& e) { return e.backup; })) {
        add(Severity::error, path + ".endpoints",
            "expected at least one endpoint that is not a backup (backups serve only when no "
            "primary is healthy), found only backups");
      }
      if (const auto& hc = cluster.health_check) {
        const std::string hp = path + ".health_check";
        if (!hc->send.bytes.empty() && !hc->send_hex.bytes.empty()) {
          add(Severity::error, hp + ".send_hex", "expected send or send_hex, found both");
        }
        if (!hc->expect.bytes.empty() && !hc->expect_hex.bytes.empty()) {
          add(Severity::error, hp + ".expect_hex", "expected expect or expect_hex, found both");
        }
        if (hc->timeout > hc->interval) {
          add(Severity::error, hp + ".timeout",
              "expected a timeout no longer than the interval (" + format_duration(hc->interval) +
                  "), found " + format_duration(hc->timeout));
        }
      }
      if (cluster.outlier.max_ejection < cluster.outlier.base_ejection) {
        add(Severity::error, path + ".outlier.max_ejection",
            "expected at least base_ejection (" + format_duration(cluster.outlier.base_ejection) +
                "), found " + format_duration(cluster.outlier.max_ejection));
      }
      std::unordered_map<std::string, std::size_t> seen;
      for (std::size_t e = 0; e < cluster.endpoints.size(); ++e) {
        const auto [it, inserted] = seen.emplace(endpoint_key(cluster.endpoints[e]), e);
        if (!inserted) {
          add(Severity::error, path + ".endpoints[" + std::to_string(e) + "]",
              "expected each endpoint once, found " + quoted(cluster.endpoints[e].to_string()) +
                  " again (endpoints[" + std::to_string(it->second) + "])");
        }
      }
      // With a listener pointing nowhere, which cluster it meant is unknown: no warnings.
      if (options_.check_unused && !broken_reference_ && !cluster.name.empty() &&
          !used.contains(cluster.name)) {
        add(Severity::warning, path,
            "cluster " + quoted(cluster.name) + " is not used by any [[listener]]");
      }
    }
  }

  // Equal for endpoints that same_endpoint() calls the same.
  static std::string endpoint_key(const Endpoint& endpoint) {
    std::string key = endpoint.to_string();
    for (char& c : key) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return key;
  }

  const Config& config_;
  const ValidateOptions& options_;
  std::unordered_set<std::string_view> cluster_names_;
  bool broken_reference_ = false;  // some listener names a cluster that does not exist
  std::vector<Diagnostic> out_;
};

}  // namespace

std::vector<Diagnostic> validate(const Config& config, const ValidateOptions& options) {
  return Validator(config, options).run();
}

}  // namespace parkway::conf
