// Lookups on Config; the value types themselves are in conf/config.h.
#include "conf/config.h"

namespace parkway::conf {

std::string LogDestination::to_string() const {
  switch (kind) {
    case Kind::off: return "off";
    case Kind::stderr_stream: return "stderr";
    case Kind::file: return path;
  }
  return "?";
}

const Cluster* Config::find_cluster(std::string_view name) const {
  for (const Cluster& cluster : clusters) {
    if (cluster.name == name) return &cluster;
  }
  return nullptr;
}

const Listener* Config::find_listener(std::string_view name) const {
  for (const Listener& listener : listeners) {
    if (listener.name == name) return &listener;
  }
  return nullptr;
}

}  // namespace parkway::conf
