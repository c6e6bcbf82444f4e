#include "proxy/ops/clusters.h"

#include <cstdio>

#include "proxy/log/json.h"

namespace parkway::proxy {
namespace {

double seconds_since(Time t, Time now) { return std::chrono::duration<double>(now - t).count(); }

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// "3m12s" for a person.
std::string ago(Duration d) {
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

}  // namespace

std::string render_clusters_json(const ServerSnapshot& s) {
  const Time t = now();
  std::string out = "{\"clusters\":[";
  bool first_cluster = true;
  for (const auto& c : s.clusters) {
    if (!first_cluster) out += ',';
    first_cluster = false;
    out += "{\"name\":" + json_quote(c->name()) +
           ",\"panic\":" + (c->in_panic() ? "true" : "false") +
           ",\"health_checks\":" + (c->checks_on() ? "true" : "false") + ",\"endpoints\":[";
    const auto hosts = c->hosts();
    bool first_endpoint = true;
    for (const auto& e : c->endpoints()) {
      if (!first_endpoint) out += ',';
      first_endpoint = false;
      out += "{\"name\":" + json_quote(e->name()) + ",\"weight\":" + std::to_string(e->weight()) +
             ",\"backup\":" + (e->backup() ? "true" : "false") + ",\"addresses\":[";
      bool first_address = true;
      for (const auto& h : hosts) {
        if (h->endpoint != e.get()) continue;
        if (!first_address) out += ',';
        first_address = false;
        const HostHealth::Report r = h->health->report();
        out += "{\"address\":" + json_quote(h->address.to_string()) +
               ",\"state\":" + json_quote(to_string(r.state)) +
               ",\"since_s\":" + number(seconds_since(r.since, t)) +
               ",\"why\":" + json_quote(r.why) +
               ",\"active\":" + std::to_string(h->health->active.load()) +
               ",\"ejections\":" + std::to_string(r.ejections);
        if (r.state == HealthState::ejected) {
          out += ",\"ejected_for_s\":" + number(-seconds_since(r.ejected_until, t));
        }
        if (r.last_check != Time{}) {
          out += ",\"last_check\":{\"ago_s\":" + number(seconds_since(r.last_check, t)) +
                 ",\"passed\":" + (r.last_check_passed ? "true" : "false") +
                 ",\"why\":" + json_quote(r.last_check_why) + "}";
        }
        out += '}';
      }
      out += "]}";
    }
    out += "],\"draining\":[";
    bool first_draining = true;
    for (const auto& h : c->draining()) {
      if (!first_draining) out += ',';
      first_draining = false;
      out += "{\"endpoint\":" + json_quote(h->endpoint_name) +
             ",\"address\":" + json_quote(h->address.to_string()) +
             ",\"active\":" + std::to_string(h->health->active.load()) + "}";
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

std::string render_clusters_text(const ServerSnapshot& s) {
  const Time t = now();
  struct Row {
    std::string cells[7];
  };
  std::vector<Row> rows;
  rows.push_back({{"CLUSTER", "ENDPOINT", "ADDRESS", "STATE", "SINCE", "ACTIVE", "WHY"}});
  for (const auto& c : s.clusters) {
    const auto hosts = c->hosts();
    for (const auto& e : c->endpoints()) {
      std::string endpoint = e->name();
      if (e->weight() != 1) endpoint += " w=" + std::to_string(e->weight());
      if (e->backup()) endpoint += " backup";
      bool any = false;
      for (const auto& h : hosts) {
        if (h->endpoint != e.get()) continue;
        any = true;
        const HostHealth::Report r = h->health->report();
        std::string state(to_string(r.state));
        if (r.state == HealthState::ejected) state += " " + ago(r.ejected_until - t);
        rows.push_back(
            {{c->name() + (c->in_panic() ? " (panic)" : ""), endpoint, h->address.to_string(),
              state, ago(t - r.since), std::to_string(h->health->active.load()), r.why}});
      }
      if (!any) {
        rows.push_back({{c->name(), endpoint, "(no address)", "-", "-", "-", "not resolved"}});
      }
    }
    for (const auto& h : c->draining()) {
      rows.push_back(
          {{c->name(), h->endpoint_name, h->address.to_string(), "draining", "-",
            std::to_string(h->health->active.load()), "removed; its connections go on"}});
    }
  }
  size_t width[7] = {};
  for (const Row& r : rows) {
    for (size_t i = 0; i < 6; i++) width[i] = std::max(width[i], r.cells[i].size());
  }
  std::string out;
  for (const Row& r : rows) {
    std::string line;
    for (size_t i = 0; i < 7; i++) {
      line += r.cells[i];
      if (i < 6) line += std::string(width[i] - r.cells[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace parkway::proxy
