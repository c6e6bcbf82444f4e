// Looking at a running parkway from outside: its descriptors, sockets, memory and CPU
// (from /proc), and its admin endpoint's metrics.
//
// These are the observations the reliability tests assert on: "no connection remains
// open" is the process's descriptor count back at its idle baseline, "no CLOSE_WAIT" is
// no socket of the process in that state in /proc/net/tcp{,6}, "RSS flat" is VmRSS and
// VmHWM from /proc/PID/status, "little CPU" is utime + stime from /proc/PID/stat.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netpoll/address.h"
#include "scheduler/time.h"

namespace parkway::observe {

// ---- /proc --------------------------------------------------------------------------------

// Open descriptors of `pid` (entries of /proc/PID/fd); -1 if the process is gone.
int fd_count(pid_t pid);
// What each descriptor is ("socket:[123]", "pipe:[456]", "anon_inode:[eventpoll]", a
// path), for messages.
std::vector<std::string> fd_targets(pid_t pid);
// A one-line summary of fd_targets: "12 fds: 5 socket, 4 pipe, ...".
std::string fd_summary(pid_t pid);

// TCP sockets owned by `pid`, counted by state ("ESTABLISHED", "CLOSE_WAIT", "LISTEN", ...),
// matched by inode from /proc/PID/fd to /proc/net/tcp and tcp6.
std::map<std::string, int> socket_states(pid_t pid);
// TCP sockets in the whole (network namespace of the) machine in state `state` whose local
// or remote port is one of `ports`.
int sockets_in_state(const std::string& state, const std::vector<uint16_t>& ports);

struct Memory {
  long rss_kib = -1;  // VmRSS
  long hwm_kib = -1;  // VmHWM: the peak RSS since start
};
Memory memory(pid_t pid);

// utime + stime of `pid` in seconds (all its threads).
double cpu_seconds(pid_t pid);
// Threads of `pid`.
int thread_count(pid_t pid);

// Polls `cond` every `every` until it holds or `within` has passed; returns whether it
// held. For state that nothing announces (/proc, metrics): polling with a bound, not a
// sleep that hopes.
bool eventually(const std::function<bool()>& cond, Duration within,
                Duration every = std::chrono::milliseconds(20));

// ---- The admin endpoint -------------------------------------------------------------------

struct HttpReply {
  int status = 0;  // 0: no HTTP answer (connection failed, closed, or timed out)
  std::string head, body;
  std::string error;  // why there is no answer
};
// Sends `request` as is and reads the answer to the end of stream. Call from a goroutine.
HttpReply http_raw(const net::SocketAddress& addr, const std::string& request,
                   Duration within = std::chrono::seconds(10));
HttpReply http_get(const net::SocketAddress& addr, const std::string& path,
                   Duration within = std::chrono::seconds(10));
// The value of series `series` ("name{labels}" exactly as printed) in a metrics text.
std::optional<double> metric(const std::string& text, const std::string& series);

}  // namespace parkway::observe
