#include "proxy/ops/metrics.h"

#include "netpoll/netpoll.h"
#include "netpoll/splice.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log.h"
#include "proxy/ops/prometheus.h"
#include "scheduler/runtime.h"

#ifndef PARKWAY_VERSION
#define PARKWAY_VERSION "unknown"
#endif

namespace parkway::proxy {

namespace f = families;

std::string render_metrics(const ServerSnapshot& s) {
  PrometheusWriter w;

  // The process.
  w.family(f::build_info);
  w.sample(f::build_info, {{"version", PARKWAY_VERSION}}, uint64_t{1});
  w.family(f::start_time);
  {
    const auto started = std::chrono::system_clock::now() - s.uptime;
    w.sample(f::start_time, {}, std::chrono::duration<double>(started.time_since_epoch()).count());
  }
  w.family(f::ready);
  w.sample(f::ready, {}, uint64_t{s.ready ? 1u : 0u});
  w.family(f::config_reloads);
  w.sample(f::config_reloads, {{"result", "success"}}, s.reloads_succeeded);
  w.sample(f::config_reloads, {{"result", "failure"}}, s.reloads_failed);

  // Listeners.
  std::vector<std::string> listener_names;
  for (const auto& l : s.listeners) listener_names.push_back(l->config().name);
#define PARKWAY_LISTENER_FAMILY(field, id)                                                       \
  w.family(f::id);                                                                               \
  for (size_t i = 0; i < s.listeners.size(); i++) {                                              \
    w.sample(f::id, {{"listener", listener_names[i]}}, s.listeners[i]->counters().field.load()); \
  }
  PARKWAY_LISTENER_COUNTERS(PARKWAY_LISTENER_FAMILY)
#undef PARKWAY_LISTENER_FAMILY
  w.family(f::listener_active);
  for (size_t i = 0; i < s.listeners.size(); i++) {
    w.sample(f::listener_active, {{"listener", listener_names[i]}}, s.listeners[i]->active());
  }
  w.family(f::listener_max_connections);
  for (size_t i = 0; i < s.listeners.size(); i++) {
    w.sample(f::listener_max_connections, {{"listener", listener_names[i]}},
             int64_t{s.listeners[i]->config().max_connections});
  }

  // Endpoints.
  w.family(f::endpoint_connects);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      w.sample(f::endpoint_connects, {{"cluster", c->name()}, {"endpoint", e->name()}},
               e->counters.connects.load());
    }
  }
  w.family(f::endpoint_connect_failures);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      for (size_t r = 0; r < kConnectFailureCount; r++) {
        w.sample(
            f::endpoint_connect_failures,
            {{"cluster", c->name()}, {"endpoint", e->name()}, {"reason", kConnectFailureNames[r]}},
            e->counters.connect_failures[r].load());
      }
    }
  }
  w.family(f::endpoint_sent_bytes);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      w.sample(f::endpoint_sent_bytes, {{"cluster", c->name()}, {"endpoint", e->name()}},
               e->counters.bytes_sent.load());
    }
  }
  w.family(f::endpoint_received_bytes);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      w.sample(f::endpoint_received_bytes, {{"cluster", c->name()}, {"endpoint", e->name()}},
               e->counters.bytes_received.load());
    }
  }
  w.family(f::endpoint_active);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      w.sample(f::endpoint_active, {{"cluster", c->name()}, {"endpoint", e->name()}},
               e->active.load());
    }
  }
  w.family(f::endpoint_addresses);
  for (const auto& c : s.clusters) {
    for (const auto& e : c->endpoints()) {
      w.sample(f::endpoint_addresses, {{"cluster", c->name()}, {"endpoint", e->name()}},
               static_cast<uint64_t>(e->addresses().size()));
    }
  }

  // Addresses (hosts) and their health; the draining ones after each cluster's own.
  struct Address {
    const ClusterState* cluster;
    std::string endpoint, address;
    const HostHealth* health;
    HealthState state;
  };
  std::vector<Address> addresses;
  for (const auto& c : s.clusters) {
    for (const auto& h : c->hosts()) {
      addresses.push_back(
          {c.get(), h->endpoint_name, h->address.to_string(), h->health.get(), h->health->state()});
    }
    for (const auto& h : c->draining()) {
      addresses.push_back({c.get(), h->endpoint_name, h->address.to_string(), h->health.get(),
                           HealthState::draining});
    }
  }
  w.family(f::address_health);
  for (const auto& a : addresses) {
    for (size_t st = 0; st < kHealthStateCount; st++) {
      w.sample(f::address_health,
               {{"cluster", a.cluster->name()},
                {"endpoint", a.endpoint},
                {"address", a.address},
                {"state", kHealthStateNames[st]}},
               uint64_t{static_cast<size_t>(a.state) == st ? 1u : 0u});
    }
  }
  w.family(f::address_transitions);
  for (const auto& a : addresses) {
    for (size_t st = 0; st < kHealthStateCount; st++) {
      w.sample(f::address_transitions,
               {{"cluster", a.cluster->name()},
                {"endpoint", a.endpoint},
                {"address", a.address},
                {"state", kHealthStateNames[st]}},
               a.health->transitions[st].load());
    }
  }
  w.family(f::address_checks);
  for (const auto& a : addresses) {
    w.sample(f::address_checks,
             {{"cluster", a.cluster->name()},
              {"endpoint", a.endpoint},
              {"address", a.address},
              {"result", "pass"}},
             a.health->checks_passed.load());
    w.sample(f::address_checks,
             {{"cluster", a.cluster->name()},
              {"endpoint", a.endpoint},
              {"address", a.address},
              {"result", "fail"}},
             a.health->checks_failed.load());
  }
  w.family(f::address_ejections);
  for (const auto& a : addresses) {
    w.sample(f::address_ejections,
             {{"cluster", a.cluster->name()}, {"endpoint", a.endpoint}, {"address", a.address}},
             a.health->ejections.load());
  }
  w.family(f::address_active);
  for (const auto& a : addresses) {
    w.sample(f::address_active,
             {{"cluster", a.cluster->name()}, {"endpoint", a.endpoint}, {"address", a.address}},
             a.health->active.load());
  }

  // Clusters.
  w.family(f::cluster_closed);
  for (const auto& c : s.clusters) {
    for (size_t i = 0; i < kCloseCauseCount; i++) {
      w.sample(f::cluster_closed,
               {{"cluster", c->name()}, {"cause", to_string(static_cast<CloseCause>(i))}},
               c->counters.closed[i].load());
    }
  }
#define PARKWAY_CLUSTER_FAMILY(field, id)                                \
  w.family(f::id);                                                       \
  for (const auto& c : s.clusters) {                                     \
    w.sample(f::id, {{"cluster", c->name()}}, c->counters.field.load()); \
  }
  PARKWAY_CLUSTER_COUNTERS(PARKWAY_CLUSTER_FAMILY)
#undef PARKWAY_CLUSTER_FAMILY
  w.family(f::cluster_panic);
  for (const auto& c : s.clusters) {
    w.sample(f::cluster_panic, {{"cluster", c->name()}}, uint64_t{c->in_panic() ? 1u : 0u});
  }

  // The data path.
  w.family(f::connections_open);
  w.sample(f::connections_open, {}, static_cast<uint64_t>(s.open_connections));
  const net::PipePoolStats pipes = net::pipe_pool_stats();
  w.family(f::transfer_bytes);
  w.sample(f::transfer_bytes, {{"mode", "spliced"}}, pipes.spliced_bytes);
  w.sample(f::transfer_bytes, {{"mode", "copied"}}, pipes.copied_bytes);
  w.family(f::pipes);
  w.sample(f::pipes, {{"state", "pooled"}}, pipes.pooled);
  w.sample(f::pipes, {{"state", "in_use"}}, pipes.in_use);
  w.family(f::pipes_discarded);
  w.sample(f::pipes_discarded, {}, static_cast<uint64_t>(pipes.discarded));
  w.family(f::copy_buffers_discarded);
  w.sample(f::copy_buffers_discarded, {}, pipes.discarded_buffers);
  w.family(f::netpoll_fds);
  w.sample(f::netpoll_fds, {}, net::NetPoller::get().open_count());
  w.family(f::descriptor_budget);
  w.sample(f::descriptor_budget, {{"share", "limit"}}, s.descriptors.limit);
  w.sample(f::descriptor_budget, {{"share", "fixed"}}, s.descriptors.fixed);
  w.sample(f::descriptor_budget, {{"share", "pipes"}}, s.descriptors.pipes);
  w.sample(f::descriptor_budget, {{"share", "connections"}}, s.descriptors.connections);

  // The runtime.
  const RuntimeStats rs = runtime_stats();
  w.family(f::runtime_goroutines);
  w.sample(f::runtime_goroutines, {}, rs.goroutines);
  w.family(f::runtime_procs);
  w.sample(f::runtime_procs, {}, int64_t{rs.procs});
  w.family(f::runtime_threads);
  w.sample(f::runtime_threads, {}, int64_t{rs.threads});
  w.family(f::runtime_stacks);
  w.sample(f::runtime_stacks, {}, static_cast<uint64_t>(rs.stacks));
  w.family(f::runtime_stack_size);
  w.sample(f::runtime_stack_size, {}, static_cast<uint64_t>(rs.stack_size));
  w.family(f::runtime_idle_stacks_released);
  w.sample(f::runtime_idle_stacks_released, {}, rs.idle_stacks_released);
  w.family(f::runtime_idle_stack_bytes_saved);
  w.sample(f::runtime_idle_stack_bytes_saved, {}, rs.idle_stack_bytes_saved);

  // Logs.
  w.family(f::log_lines_dropped);
  w.sample(f::log_lines_dropped, {}, log::dropped());
  w.family(f::access_log_lines);
  w.sample(f::access_log_lines, {}, access_log::written());
  w.family(f::access_log_dropped);
  w.sample(f::access_log_dropped, {}, access_log::dropped());
  return w.text();
}

}  // namespace parkway::proxy
