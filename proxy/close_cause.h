// Why a proxied connection ended: one list, used by the logs, the access log and the
// metric parkway_cluster_connections_closed_total{cause=...}, each cause with the short
// name that appears in them and what it means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parkway::proxy {

#define PARKWAY_CLOSE_CAUSES(X)                                                          \
  X(client_eof, "the client finished sending first, then both directions completed")     \
  X(upstream_eof, "the upstream finished sending first, then both directions completed") \
  X(idle_timeout, "no bytes moved either way for idle_timeout")                          \
  X(fin_timeout, "half-closed, and the open direction was idle for fin_timeout")         \
  X(max_duration, "the connection lived max_duration")                                   \
  X(client_reset, "the client reset the connection")                                     \
  X(upstream_reset, "the upstream reset the connection")                                 \
  X(client_error, "reading from or writing to the client failed otherwise")              \
  X(upstream_error, "reading from or writing to the upstream failed otherwise")          \
  X(connect_failed, "every connect attempt failed (refused, timed out, unreachable)")    \
  X(no_endpoint, "the cluster had no endpoint with an address")                          \
  X(drain_timeout, "still open when the drain timeout ran out")                          \
  X(shutdown, "closed at once by a second stop signal")

// The causes, then `none`: not decided yet (never counted or logged).
enum class CloseCause : uint8_t {
#define PARKWAY_CAUSE_ENUM(name, help) name,
  PARKWAY_CLOSE_CAUSES(PARKWAY_CAUSE_ENUM)
#undef PARKWAY_CAUSE_ENUM
      none
};

// The number of causes, `none` not included: every cause c has index size_t(c) below it.
inline constexpr size_t kCloseCauseCount = static_cast<size_t>(CloseCause::none);

inline constexpr std::string_view to_string(CloseCause c) {
  switch (c) {
#define PARKWAY_CAUSE_NAME(name, help) \
  case CloseCause::name: return #name;
    PARKWAY_CLOSE_CAUSES(PARKWAY_CAUSE_NAME)
#undef PARKWAY_CAUSE_NAME
    case CloseCause::none: return "none";
  }
  return "unknown";
}

}  // namespace parkway::proxy
