// Every metric family parkway exports, declared once: PARKWAY_METRIC_FAMILIES below is the
// one list of names, types, labels and help texts. The counters the data path increments
// are fields of the structs at the end, each bound to its family by name; gauges are read
// from the running objects when /metrics is rendered (proxy/ops/metrics.cpp), which refers
// to every family through this list (families::listener_accepted, ...) and never spells a
// metric name itself. docs/metrics.md documents the families; a test checks it against
// kFamilies, and another that /metrics exports exactly these families.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "netpoll/error.h"
#include "proxy/close_cause.h"

namespace parkway::proxy {

enum class MetricType { counter, gauge };

// One family: its name, type, the names of its labels (comma-separated, in the order the
// samples give them) and its help text.
struct MetricFamily {
  std::string_view name;
  MetricType type;
  std::string_view labels;
  std::string_view help;
};

// X(id, type, labels, name, help)
#define PARKWAY_METRIC_FAMILIES(X)                                                                 \
  /* The process. */                                                                               \
  X(build_info, gauge, "version", "parkway_build_info",                                            \
    "The version of parkway that serves these metrics (always 1).")                                \
  X(start_time, gauge, "", "parkway_start_time_seconds",                                           \
    "When parkway started, in seconds since the Unix epoch.")                                      \
  X(ready, gauge, "", "parkway_ready", "1 while listening, 0 while starting or draining.")         \
  X(config_reloads, counter, "result", "parkway_config_reloads_total",                             \
    "Reloads (SIGHUP), by result: success or failure.")                                            \
  /* Listeners. */                                                                                 \
  X(listener_accepted, counter, "listener", "parkway_listener_connections_accepted_total",         \
    "Connections accepted.")                                                                       \
  X(listener_max_connections_reached, counter, "listener",                                         \
    "parkway_listener_max_connections_reached_total",                                              \
    "Times the listener stopped accepting because max_connections connections were open; "         \
    "new clients wait in the kernel backlog meanwhile (parkway never accepts a connection "        \
    "only to close it).")                                                                          \
  X(listener_accept_resource_errors, counter, "listener",                                          \
    "parkway_listener_accept_resource_errors_total",                                               \
    "Accepts that failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, "             \
    "ENOMEM); the listener backs off and retries.")                                                \
  X(listener_descriptor_waits, counter, "listener",                                                \
    "parkway_listener_descriptor_budget_waits_total",                                              \
    "Times the listener stopped accepting because every connection slot of the process's "         \
    "descriptor budget was taken; new clients wait in the kernel backlog meanwhile.")              \
  X(listener_active, gauge, "listener", "parkway_listener_connections_active",                     \
    "Connections open now.")                                                                       \
  X(listener_max_connections, gauge, "listener", "parkway_listener_max_connections",               \
    "The listener's limit on open connections.")                                                   \
  /* Endpoints. */                                                                                 \
  X(endpoint_connects, counter, "cluster,endpoint", "parkway_endpoint_connects_total",             \
    "Connection attempts to the endpoint.")                                                        \
  X(endpoint_connect_failures, counter, "cluster,endpoint,reason",                                 \
    "parkway_endpoint_connect_failures_total",                                                     \
    "Connection attempts to the endpoint that failed, by reason: refused, timeout, "               \
    "unreachable, reset or other.")                                                                \
  X(endpoint_sent_bytes, counter, "cluster,endpoint", "parkway_endpoint_sent_bytes_total",         \
    "Bytes forwarded from clients to the endpoint.")                                               \
  X(endpoint_received_bytes, counter, "cluster,endpoint", "parkway_endpoint_received_bytes_total", \
    "Bytes forwarded from the endpoint to clients.")                                               \
  X(endpoint_active, gauge, "cluster,endpoint", "parkway_endpoint_connections_active",             \
    "Connections open (or connecting) to the endpoint now.")                                       \
  X(endpoint_addresses, gauge, "cluster,endpoint", "parkway_endpoint_addresses",                   \
    "Addresses the endpoint resolves to now (0: it gets no connections).")                         \
  X(address_health, gauge, "cluster,endpoint,address,state", "parkway_address_health",             \
    "The health of each address of each endpoint: 1 for its state now (unchecked, healthy, "       \
    "failing, ejected, draining), 0 for the others.")                                              \
  X(address_transitions, counter, "cluster,endpoint,address,state",                                \
    "parkway_address_health_transitions_total", "Times the address entered each state.")           \
  X(address_checks, counter, "cluster,endpoint,address,result",                                    \
    "parkway_address_health_checks_total",                                                         \
    "Active health checks of the address, by result: "                                             \
    "pass or fail.")                                                                               \
  X(address_ejections, counter, "cluster,endpoint,address", "parkway_address_ejections_total",     \
    "Times the address was ejected for failing connects in a row.")                                \
  X(address_active, gauge, "cluster,endpoint,address", "parkway_address_connections_active",       \
    "Connections open (or connecting) to the address now.")                                        \
  /* Clusters. */                                                                                  \
  X(cluster_closed, counter, "cluster,cause", "parkway_cluster_connections_closed_total",          \
    "Connections of the cluster that ended, by cause (proxy/close_cause.h).")                      \
  X(cluster_dns_resolutions, counter, "cluster", "parkway_cluster_dns_resolutions_total",          \
    "DNS resolutions of the cluster's endpoint names.")                                            \
  X(cluster_dns_failures, counter, "cluster", "parkway_cluster_dns_failures_total",                \
    "DNS resolutions that failed; the endpoint kept its last good addresses.")                     \
  X(cluster_panic, gauge, "cluster", "parkway_cluster_panic",                                      \
    "1 while the cluster is in panic mode: fewer than panic_threshold percent of its "             \
    "addresses are healthy, and connections go to all of them.")                                   \
  /* The data path. */                                                                             \
  X(connections_open, gauge, "", "parkway_connections_open",                                       \
    "Proxied connections open now, in all.")                                                       \
  X(transfer_bytes, counter, "mode", "parkway_transfer_bytes_total",                               \
    "Bytes forwarded, by how: spliced through a kernel pipe, or copied through a buffer.")         \
  X(pipes, gauge, "state", "parkway_pipes",                                                        \
    "Kernel pipes for splice: idle in the pool (pooled), or holding bytes (in_use).")              \
  X(pipes_discarded, counter, "", "parkway_pipes_discarded_total",                                 \
    "Pipes closed because a transfer failed while they held data.")                                \
  X(copy_buffers_discarded, counter, "", "parkway_copy_buffers_discarded_total",                   \
    "Copy buffers freed because a transfer failed while they held data.")                          \
  X(netpoll_fds, gauge, "", "parkway_netpoll_fds", "Descriptors registered with the poller.")      \
  X(descriptor_budget, gauge, "share", "parkway_descriptor_budget",                                \
    "How the process's descriptor limit (limit) is shared out: fixed, pipes (each two "            \
    "descriptors), connections (each two descriptors).")                                           \
  /* The runtime. */                                                                               \
  X(runtime_goroutines, gauge, "", "parkway_runtime_goroutines", "Goroutines alive.")              \
  X(runtime_procs, gauge, "", "parkway_runtime_procs", "Ps: goroutines that may run at once.")     \
  X(runtime_threads, gauge, "", "parkway_runtime_threads",                                         \
    "Ms: OS threads the scheduler has started.")                                                   \
  X(runtime_stacks, gauge, "", "parkway_runtime_goroutine_stacks",                                 \
    "Goroutine stacks allocated (in use, or cached for reuse).")                                   \
  X(runtime_stack_size, gauge, "", "parkway_runtime_goroutine_stack_size_bytes",                   \
    "Usable bytes of each goroutine stack (only touched pages are resident).")                     \
  X(runtime_idle_stacks_released, gauge, "", "parkway_runtime_idle_stacks_released",               \
    "Goroutines idle on I/O whose stack pages are given back to the kernel now.")                  \
  X(runtime_idle_stack_bytes_saved, gauge, "", "parkway_runtime_idle_stack_bytes_saved",           \
    "The live stack bytes kept aside for them, to copy back when they run.")                       \
  /* Logs. */                                                                                      \
  X(log_lines_dropped, counter, "", "parkway_log_lines_dropped_total",                             \
    "Event log lines dropped because stderr could not keep up.")                                   \
  X(access_log_lines, counter, "", "parkway_access_log_lines_total", "Access log lines written.")  \
  X(access_log_dropped, counter, "", "parkway_access_log_dropped_total",                           \
    "Access log lines dropped because the writer could not keep up (never waited for).")

namespace families {
#define PARKWAY_FAMILY_DECLARE(id, type, labels, name, help) \
  inline constexpr MetricFamily id{name, MetricType::type, labels, help};
PARKWAY_METRIC_FAMILIES(PARKWAY_FAMILY_DECLARE)
#undef PARKWAY_FAMILY_DECLARE
}  // namespace families

// Every family, in the order /metrics writes them.
inline constexpr std::array kFamilies = {
#define PARKWAY_FAMILY_ENTRY(id, type, labels, name, help) &families::id,
    PARKWAY_METRIC_FAMILIES(PARKWAY_FAMILY_ENTRY)
#undef PARKWAY_FAMILY_ENTRY
};

// ---- Counters of the data path -------------------------------------------------------
// X(field, family): a field of the struct, and the family that exports it.

#define PARKWAY_LISTENER_COUNTERS(X)                           \
  X(accepted, listener_accepted)                               \
  X(max_connections_reached, listener_max_connections_reached) \
  X(accept_resource_errors, listener_accept_resource_errors)   \
  X(descriptor_waits, listener_descriptor_waits)

#define PARKWAY_ENDPOINT_COUNTERS(X) \
  X(connects, endpoint_connects)     \
  X(bytes_sent, endpoint_sent_bytes) \
  X(bytes_received, endpoint_received_bytes)

#define PARKWAY_CLUSTER_COUNTERS(X)           \
  X(dns_resolutions, cluster_dns_resolutions) \
  X(dns_failures, cluster_dns_failures)

// Why a connect attempt failed: the `reason` label of endpoint_connect_failures.
#define PARKWAY_CONNECT_FAILURES(X) X(refused) X(timeout) X(unreachable) X(reset) X(other)

enum class ConnectFailure {
#define PARKWAY_FAILURE_ENUM(name) name,
  PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_ENUM)
#undef PARKWAY_FAILURE_ENUM
};
inline constexpr std::array<std::string_view, 0
#define PARKWAY_FAILURE_COUNT(name) +1
                            PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_COUNT)
#undef PARKWAY_FAILURE_COUNT
                            >
    kConnectFailureNames = {
#define PARKWAY_FAILURE_NAME(name) #name,
        PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_NAME)
#undef PARKWAY_FAILURE_NAME
};
inline constexpr size_t kConnectFailureCount = kConnectFailureNames.size();

inline ConnectFailure classify_connect_failure(std::error_code ec) {
  if (net::is_refused(ec)) return ConnectFailure::refused;
  if (net::is_timeout(ec)) return ConnectFailure::timeout;
  if (net::is_unreachable(ec)) return ConnectFailure::unreachable;
  if (net::is_reset(ec)) return ConnectFailure::reset;
  return ConnectFailure::other;
}

#define PARKWAY_COUNTER_FIELD(field, family) std::atomic<uint64_t> field{0};

struct ListenerCounters {
  PARKWAY_LISTENER_COUNTERS(PARKWAY_COUNTER_FIELD)
};

struct EndpointCounters {
  PARKWAY_ENDPOINT_COUNTERS(PARKWAY_COUNTER_FIELD)
  std::array<std::atomic<uint64_t>, kConnectFailureCount>
      connect_failures{};  // endpoint_connect_failures
};

struct ClusterCounters {
  PARKWAY_CLUSTER_COUNTERS(PARKWAY_COUNTER_FIELD)
  std::array<std::atomic<uint64_t>, kCloseCauseCount> closed{};  // cluster_closed, by CloseCause
};

#undef PARKWAY_COUNTER_FIELD

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace parkway::proxy
