// Writes the Prometheus text exposition format, version 0.0.4:
//
//   # HELP parkway_listener_connections_accepted_total Connections accepted.
//   # TYPE parkway_listener_connections_accepted_total counter
//   parkway_listener_connections_accepted_total{listener="app"} 42
//
// One family at a time: family() writes its HELP and TYPE lines, then sample() the series
// of that family. Label values are escaped (\\, \", \n); names are the caller's constants.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace parkway::proxy {

enum class MetricType { counter, gauge };

class PrometheusWriter {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void family(std::string_view name, MetricType type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  void sample(std::string_view name, Labels labels, uint64_t value);
  void sample(std::string_view name, Labels labels, int64_t value);
  const std::string& text() const { return out_; }

 private:
  void series(std::string_view name, Labels labels);
  std::string out_;
};

// A label value escaped for the text format.
std::string escape_label_value(std::string_view value);

}  // namespace parkway::proxy
