// The counters parkway exports, each declared once: the lists below produce both the
// fields that the data path increments and the metric families /metrics writes
// (metrics.cpp), with their help text. Gauges (open connections and the like) are read
// from the objects themselves when the metrics are rendered.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "netpoll/error.h"
#include "proxy/close_cause.h"

namespace parkway::proxy {

#define PARKWAY_LISTENER_COUNTERS(X)                                                            \
  X(accepted, "parkway_listener_connections_accepted_total", "Connections accepted.")           \
  X(max_connections_reached, "parkway_listener_max_connections_reached_total",                  \
    "Times the listener stopped accepting because max_connections connections were open; "    \
    "new clients wait in the kernel backlog meanwhile (parkway never accepts a connection "   \
    "only to close it).")                                                                      \
  X(accept_resource_errors, "parkway_listener_accept_resource_errors_total",                    \
    "Accepts that failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, "        \
    "ENOMEM); the listener backs off and retries.")

#define PARKWAY_ENDPOINT_COUNTERS(X)                                                            \
  X(connects, "parkway_endpoint_connects_total", "Connection attempts to the endpoint.")        \
  X(bytes_sent, "parkway_endpoint_sent_bytes_total",                                            \
    "Bytes forwarded from clients to the endpoint.")                                            \
  X(bytes_received, "parkway_endpoint_received_bytes_total",                                    \
    "Bytes forwarded from the endpoint to clients.")

#define PARKWAY_CLUSTER_COUNTERS(X)                                                             \
  X(dns_resolutions, "parkway_cluster_dns_resolutions_total",                                   \
    "DNS resolutions of the cluster's endpoint names.")                                        \
  X(dns_failures, "parkway_cluster_dns_failures_total",                                         \
    "DNS resolutions that failed; the endpoint kept its last good addresses.")

// Why a connect attempt failed: the `reason` label of
// parkway_endpoint_connect_failures_total.
#define PARKWAY_CONNECT_FAILURES(X) X(refused) X(timeout) X(unreachable) X(reset) X(other)

enum class ConnectFailure {
#define PARKWAY_FAILURE_ENUM(name) name,
  PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_ENUM)
#undef PARKWAY_FAILURE_ENUM
};
inline constexpr size_t kConnectFailureCount = 0
#define PARKWAY_FAILURE_COUNT(name) +1
    PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_COUNT)
#undef PARKWAY_FAILURE_COUNT
    ;
inline constexpr std::array<std::string_view, kConnectFailureCount> kConnectFailureNames = {
#define PARKWAY_FAILURE_NAME(name) #name,
    PARKWAY_CONNECT_FAILURES(PARKWAY_FAILURE_NAME)
#undef PARKWAY_FAILURE_NAME
};

inline ConnectFailure classify_connect_failure(std::error_code ec) {
  if (net::is_refused(ec)) return ConnectFailure::refused;
  if (net::is_timeout(ec)) return ConnectFailure::timeout;
  if (net::is_unreachable(ec)) return ConnectFailure::unreachable;
  if (net::is_reset(ec)) return ConnectFailure::reset;
  return ConnectFailure::other;
}

inline constexpr size_t kCloseCauseCount = 0
#define PARKWAY_CAUSE_COUNT(name, help) +1
    PARKWAY_CLOSE_CAUSES(PARKWAY_CAUSE_COUNT)
#undef PARKWAY_CAUSE_COUNT
    ;

#define PARKWAY_COUNTER_FIELD(field, metric, help) std::atomic<uint64_t> field{0};

struct ListenerCounters {
  PARKWAY_LISTENER_COUNTERS(PARKWAY_COUNTER_FIELD)
};

struct EndpointCounters {
  PARKWAY_ENDPOINT_COUNTERS(PARKWAY_COUNTER_FIELD)
  std::array<std::atomic<uint64_t>, kConnectFailureCount> connect_failures{};
};

struct ClusterCounters {
  PARKWAY_CLUSTER_COUNTERS(PARKWAY_COUNTER_FIELD)
  std::array<std::atomic<uint64_t>, kCloseCauseCount> closed{};  // by CloseCause
};

#undef PARKWAY_COUNTER_FIELD

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace parkway::proxy
