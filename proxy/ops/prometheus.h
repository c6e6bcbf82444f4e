// Writes the Prometheus text exposition format, version 0.0.4:
//
//   # HELP parkway_listener_connections_accepted_total Connections accepted.
//   # TYPE parkway_listener_connections_accepted_total counter
//   parkway_listener_connections_accepted_total{listener="app"} 42
//
// One family at a time, each a MetricFamily of proxy/stats.h (so that no name is spelled
// twice): family() writes its HELP and TYPE lines, then sample() the series of that
// family. A sample of another family than the current one, or with other label names
// than the family declares, is a bug and aborts. Label values are escaped (\\, \", \n).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/stats.h"

namespace parkway::proxy {

class PrometheusWriter {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void family(const MetricFamily& f);
  void sample(const MetricFamily& f, Labels labels, double value);
  void sample(const MetricFamily& f, Labels labels, uint64_t value);
  void sample(const MetricFamily& f, Labels labels, int64_t value);
  const std::string& text() const { return out_; }

 private:
  void series(const MetricFamily& f, Labels labels);
  std::string out_;
  const MetricFamily* current_ = nullptr;
};

// A label value escaped for the text format.
std::string escape_label_value(std::string_view value);

}  // namespace parkway::proxy
