// GET /metrics: every family parkway exports, rendered from the counters declared in
// proxy/stats.h, the gauges of the running objects, and the runtime's own statistics.
#include "netpoll/netpoll.h"
#include "netpoll/splice.h"
#include "proxy/access_log.h"
#include "proxy/log.h"
#include "proxy/prometheus.h"
#include "proxy/server.h"
#include "scheduler/runtime.h"

#ifndef PARKWAY_VERSION
#define PARKWAY_VERSION "unknown"
#endif

namespace parkway::proxy {

std::string Server::render_metrics() {
  PrometheusWriter w;
  MutexLock g(state_mu_);
  using MT = MetricType;

  w.family("parkway_build_info", MT::gauge, "The version of parkway that serves these metrics.");
  w.sample("parkway_build_info", {{"version", PARKWAY_VERSION}}, uint64_t{1});
  w.family("parkway_start_time_seconds", MT::gauge,
           "When parkway started, in seconds since the Unix epoch.");
  {
    const auto age = now() - started_;
    const auto wall = std::chrono::system_clock::now() - age;
    w.sample("parkway_start_time_seconds", {},
             std::chrono::duration<double>(wall.time_since_epoch()).count());
  }
  w.family("parkway_ready", MT::gauge, "1 while listening, 0 while starting or draining.");
  w.sample("parkway_ready", {}, uint64_t{ready_.load() ? 1u : 0u});
  w.family("parkway_config_reloads_total", MT::counter, "Reloads (SIGHUP), by result.");
  w.sample("parkway_config_reloads_total", {{"result", "success"}}, reloads_succeeded_.load());
  w.sample("parkway_config_reloads_total", {{"result", "failure"}}, reloads_failed_.load());

  // Listeners.
#define PARKWAY_LISTENER_FAMILY(field, metric, help)                         \
  w.family(metric, MT::counter, help);                                     \
  for (const auto& l : listeners_) {                                       \
    const auto name = l->config().name;                                    \
    w.sample(metric, {{"listener", name}}, l->counters.field.load());      \
  }
  PARKWAY_LISTENER_COUNTERS(PARKWAY_LISTENER_FAMILY)
#undef PARKWAY_LISTENER_FAMILY
  w.family("parkway_listener_connections_active", MT::gauge, "Connections open now.");
  for (const auto& l : listeners_) {
    w.sample("parkway_listener_connections_active", {{"listener", l->config().name}}, l->active());
  }
  w.family("parkway_listener_max_connections", MT::gauge,
           "The listener's limit on open connections.");
  for (const auto& l : listeners_) {
    const auto cfg = l->config();
    w.sample("parkway_listener_max_connections", {{"listener", cfg.name}},
             int64_t{cfg.max_connections});
  }

  // Endpoints.
#define PARKWAY_ENDPOINT_FAMILY(field, metric, help)                                         \
  w.family(metric, MT::counter, help);                                                     \
  for (const auto& [cname, c] : clusters_) {                                                 \
    for (const auto& e : c->endpoints()) {                                                   \
      w.sample(metric, {{"cluster", cname}, {"endpoint", e->name()}}, e->counters.field.load()); \
    }                                                                                        \
  }
  PARKWAY_ENDPOINT_COUNTERS(PARKWAY_ENDPOINT_FAMILY)
#undef PARKWAY_ENDPOINT_FAMILY
  w.family("parkway_endpoint_connect_failures_total", MT::counter,
           "Connection attempts to the endpoint that failed, by reason.");
  for (const auto& [cname, c] : clusters_) {
    for (const auto& e : c->endpoints()) {
      for (size_t r = 0; r < kConnectFailureCount; r++) {
        w.sample("parkway_endpoint_connect_failures_total",
                 {{"cluster", cname}, {"endpoint", e->name()}, {"reason", kConnectFailureNames[r]}},
                 e->counters.connect_failures[r].load());
      }
    }
  }
  w.family("parkway_endpoint_connections_active", MT::gauge,
           "Connections open (or connecting) to the endpoint now.");
  for (const auto& [cname, c] : clusters_) {
    for (const auto& e : c->endpoints()) {
      w.sample("parkway_endpoint_connections_active", {{"cluster", cname}, {"endpoint", e->name()}},
               e->active.load());
    }
  }
  w.family("parkway_endpoint_addresses", MT::gauge,
           "Addresses the endpoint resolves to now (0: it gets no connections).");
  for (const auto& [cname, c] : clusters_) {
    for (const auto& e : c->endpoints()) {
      w.sample("parkway_endpoint_addresses", {{"cluster", cname}, {"endpoint", e->name()}},
               static_cast<uint64_t>(e->addresses().size()));
    }
  }

  // Clusters.
#define PARKWAY_CLUSTER_FAMILY(field, metric, help)                              \
  w.family(metric, MT::counter, help);                                         \
  for (const auto& [cname, c] : clusters_) {                                     \
    w.sample(metric, {{"cluster", cname}}, c->counters.field.load());            \
  }
  PARKWAY_CLUSTER_COUNTERS(PARKWAY_CLUSTER_FAMILY)
#undef PARKWAY_CLUSTER_FAMILY
  w.family("parkway_cluster_connections_closed_total", MT::counter,
           "Connections of the cluster that ended, by cause (see proxy/close_cause.h).");
  for (const auto& [cname, c] : clusters_) {
    for (size_t i = 0; i < kCloseCauseCount; i++) {
      w.sample("parkway_cluster_connections_closed_total",
               {{"cluster", cname}, {"cause", to_string(static_cast<CloseCause>(i))}},
               c->counters.closed[i].load());
    }
  }

  // Data path.
  const net::PipePoolStats pipes = net::pipe_pool_stats();
  w.family("parkway_transfer_bytes_total", MT::counter,
           "Bytes forwarded, by how: spliced through a kernel pipe, or copied through a buffer "
           "(the fallback).");
  w.sample("parkway_transfer_bytes_total", {{"mode", "spliced"}}, pipes.spliced_bytes);
  w.sample("parkway_transfer_bytes_total", {{"mode", "copied"}}, pipes.copied_bytes);
  w.family("parkway_pipes", MT::gauge, "Kernel pipes for splice: idle in the pool, or in use.");
  w.sample("parkway_pipes", {{"state", "pooled"}}, pipes.pooled);
  w.sample("parkway_pipes", {{"state", "in_use"}}, pipes.in_use);
  w.family("parkway_pipes_discarded_total", MT::counter,
           "Pipes closed because a transfer failed while they held data.");
  w.sample("parkway_pipes_discarded_total", {}, static_cast<uint64_t>(pipes.discarded));
  w.family("parkway_copy_buffers_discarded_total", MT::counter,
           "Copy buffers freed because a transfer failed while they held data.");
  w.sample("parkway_copy_buffers_discarded_total", {}, pipes.discarded_buffers);
  w.family("parkway_connections_open", MT::gauge, "Proxied connections open now, in all.");
  w.sample("parkway_connections_open", {}, static_cast<uint64_t>(registry_.size()));

  // Runtime.
  const RuntimeStats rs = runtime_stats();
  w.family("parkway_runtime_goroutines", MT::gauge, "Goroutines alive.");
  w.sample("parkway_runtime_goroutines", {}, rs.goroutines);
  w.family("parkway_runtime_procs", MT::gauge, "Ps: goroutines that may run at once.");
  w.sample("parkway_runtime_procs", {}, int64_t{rs.procs});
  w.family("parkway_runtime_threads", MT::gauge, "Ms: OS threads the scheduler has started.");
  w.sample("parkway_runtime_threads", {}, int64_t{rs.threads});
  w.family("parkway_runtime_goroutine_stacks", MT::gauge,
           "Goroutine stacks allocated (in use, or cached for reuse).");
  w.sample("parkway_runtime_goroutine_stacks", {}, static_cast<uint64_t>(rs.stacks));
  w.family("parkway_runtime_goroutine_stack_size_bytes", MT::gauge,
           "Usable bytes of each goroutine stack (only touched pages are resident).");
  w.sample("parkway_runtime_goroutine_stack_size_bytes", {}, static_cast<uint64_t>(rs.stack_size));
  w.family("parkway_runtime_idle_stacks_released", MT::gauge,
           "Goroutines idle on I/O whose stack pages are given back to the kernel now.");
  w.sample("parkway_runtime_idle_stacks_released", {}, rs.idle_stacks_released);
  w.family("parkway_runtime_idle_stack_bytes_saved", MT::gauge,
           "The live stack bytes kept aside for them, to copy back when they run.");
  w.sample("parkway_runtime_idle_stack_bytes_saved", {}, rs.idle_stack_bytes_saved);
  w.family("parkway_netpoll_fds", MT::gauge, "Descriptors registered with the poller.");
  w.sample("parkway_netpoll_fds", {}, net::NetPoller::get().open_count());

  // Logs.
  w.family("parkway_log_lines_dropped_total", MT::counter,
           "Event log lines dropped because stderr could not keep up.");
  w.sample("parkway_log_lines_dropped_total", {}, log::dropped());
  w.family("parkway_access_log_lines_total", MT::counter, "Access log lines written.");
  w.sample("parkway_access_log_lines_total", {}, access_log::written());
  w.family("parkway_access_log_dropped_total", MT::counter,
           "Access log lines dropped because the writer could not keep up (never waited for).");
  w.sample("parkway_access_log_dropped_total", {}, access_log::dropped());
  return w.text();
}

}  // namespace parkway::proxy
