#include "proxy/ops/prometheus.h"

#include <cstdio>

#include "scheduler/check.h"

namespace parkway::proxy {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PrometheusWriter::family(const MetricFamily& f) {
  current_ = &f;
  out_ += "# HELP ";
  out_ += f.name;
  out_ += ' ';
  // HELP text escapes backslash and newline only.
  for (char c : f.help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += f.name;
  out_ += f.type == MetricType::counter ? " counter\n" : " gauge\n";
}

void PrometheusWriter::series(const MetricFamily& f, Labels labels) {
  PW_CHECK(current_ == &f, "metrics: a sample of %.*s outside its family",
           static_cast<int>(f.name.size()), f.name.data());
  std::string names;
  for (const auto& label : labels) names += (names.empty() ? "" : ",") + std::string(label.first);
  PW_CHECK(names == f.labels, "metrics: %.*s takes labels {%.*s}, not {%s}",
           static_cast<int>(f.name.size()), f.name.data(), static_cast<int>(f.labels.size()),
           f.labels.data(), names.c_str());
  out_ += f.name;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escape_label_value(v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void PrometheusWriter::sample(const MetricFamily& f, Labels labels, double value) {
  series(f, labels);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g\n", value);
  out_ += buf;
}

void PrometheusWriter::sample(const MetricFamily& f, Labels labels, uint64_t value) {
  series(f, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusWriter::sample(const MetricFamily& f, Labels labels, int64_t value) {
  series(f, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

}  // namespace parkway::proxy
