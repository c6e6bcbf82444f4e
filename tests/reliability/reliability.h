// What the reliability tests share: the e2e harness (the real binary, its log), the
// scriptable peer (peer.h), observations from /proc and the admin endpoint (observe.h),
// and the one assertion most of them end with: parkway holds nothing any more.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/e2e.h"
#include "tests/e2e/time_scale.h"
#include "tests/reliability/peer.h"
#include "tests/support/observe.h"

namespace parkway::reliability {

using namespace std::chrono_literals;
using e2e::scaled;

// A receive buffer that fills soon, so that backpressure reaches parkway quickly. Not
// smaller: below about twice the MSS (64 KiB on loopback) the receiver never opens its
// window by a whole segment, and the sender falls back to zero-window probes with
// exponential backoff, which crawls (a kernel behaviour, not parkway's).
inline constexpr int kSmallRcvbuf = 128 * 1024;

using e2e::admin_address;
using e2e::admin_toml;

// Connects a peer to `addr`, or FAILs saying why.
inline peer::Peer connect_peer(const net::SocketAddress& addr) {
  auto c = peer::Peer::connect(addr, scaled(10s));
  if (!c) FAIL("connect to " << addr.to_string() << ": " << c.error().message());
  return std::move(*c);
}

// parkway's descriptors by kind.
struct Fds {
  int sockets = 0, pipes = 0, other = 0;
  int total() const { return sockets + pipes + other; }
};
inline Fds fds_of(pid_t pid) {
  Fds f;
  for (const auto& t : observe::fd_targets(pid)) {
    if (t.rfind("socket:", 0) == 0) {
      f.sockets++;
    } else if (t.rfind("pipe:", 0) == 0) {
      f.pipes++;
    } else {
      f.other++;
    }
  }
  return f;
}

// What an idle parkway holds, taken before the traffic of a test. Its sockets are the
// listeners (and the admin listener); its pipes are stdout and stderr (to the harness)
// and the splice pipes pooled for reuse, two descriptors each.
struct Baseline {
  Fds fds;
};
inline Baseline baseline_of(e2e::ProxyProcess& p) { return {fds_of(p.pid())}; }

// Why parkway does not look idle, or "" once it does: every descriptor it holds beyond
// `base` must be a pooled splice pipe (at most 64 of them, two descriptors each; the pool
// is parkway's own, bounded, and holds no data), no socket may be left beyond the
// listeners, and none of its sockets may sit in CLOSE_WAIT (a peer's FIN it never
// answered). Polls for up to `within`, since closes finish asynchronously.
inline std::string not_idle(e2e::ProxyProcess& p, const Baseline& base,
                            Duration within = scaled(10s)) {
  std::string why;
  observe::eventually(
      [&] {
        const Fds now_fds = fds_of(p.pid());
        const auto states = observe::socket_states(p.pid());
        const int close_wait = states.count("CLOSE_WAIT") ? states.at("CLOSE_WAIT") : 0;
        const int extra_pipes = now_fds.pipes - base.fds.pipes;
        why.clear();
        if (now_fds.sockets != base.fds.sockets) {
          why += std::to_string(now_fds.sockets) + " sockets open, " +
                 std::to_string(base.fds.sockets) + " when idle; ";
        }
        if (now_fds.other != base.fds.other) {
          why += std::to_string(now_fds.other) + " other descriptors, " +
                 std::to_string(base.fds.other) + " when idle; ";
        }
        if (extra_pipes < 0 || extra_pipes > 2 * 64 || extra_pipes % 2 != 0) {
          why += std::to_string(extra_pipes) + " pipe descriptors beyond the idle ones; ";
        }
        if (close_wait != 0) why += std::to_string(close_wait) + " sockets in CLOSE_WAIT; ";
        if (!why.empty()) why += observe::fd_summary(p.pid());
        return why.empty();
      },
      within, 50ms);
  return why;
}

// The same, and the pipes in use (from the admin endpoint) are 0 and those pooled are
// exactly the extra pipe descriptors: no pipe is held by a connection.
inline std::string not_idle(e2e::ProxyProcess& p, const Baseline& base,
                            const net::SocketAddress& admin) {
  std::string why = not_idle(p, base);
  if (!why.empty()) return why;
  const auto m = observe::http_get(admin, "/metrics");
  if (m.status != 200) return "GET /metrics: " + std::to_string(m.status) + " " + m.error;
  const auto in_use = observe::metric(m.body, R"(parkway_pipes{state="in_use"})");
  const auto pooled = observe::metric(m.body, R"(parkway_pipes{state="pooled"})");
  const auto open = observe::metric(m.body, "parkway_connections_open");
  if (in_use != 0.0)
    return "parkway_pipes{state=\"in_use\"} is " + std::to_string(in_use.value_or(-1));
  if (open != 0.0) return "parkway_connections_open is " + std::to_string(open.value_or(-1));
  // The admin connection that served this has closed by the time we read /proc again.
  std::string pipes_why;
  observe::eventually(
      [&] {
        const int extra = fds_of(p.pid()).pipes - base.fds.pipes;
        pipes_why = extra == 2 * static_cast<int>(pooled.value_or(-1))
                        ? ""
                        : std::to_string(extra) + " extra pipe descriptors, " +
                              std::to_string(pooled.value_or(-1)) + " pipes pooled";
        return pipes_why.empty();
      },
      scaled(5s));
  return pipes_why;
}

}  // namespace parkway::reliability

// GO_CHECK for a peer's script, from a goroutine: records the peer's failure text.
#define PEER_CHECK(checks, peer, ...) \
  ((__VA_ARGS__)                      \
       ? void()                       \
       : (checks).fail(("peer failed: " + (peer).failure()).c_str(), __FILE__, __LINE__))
