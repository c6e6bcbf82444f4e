// The descriptor budget: the process's descriptors (RLIMIT_NOFILE) shared out so that no
// client is accepted and then turned away for lack of one.
//
// A proxied connection needs two descriptors for its whole life (the client's socket and
// the upstream's) and, while bytes are spliced, pipes (two descriptors each). If the
// accept loops spent every descriptor on clients, the clients accepted last would wait
// for an upstream socket that none of them can free, and be closed when their connect
// timeout ran out (seen: 271 resets among 260 churning clients at a limit of 128). So the
// limit is divided when the configuration is applied:
//
//   fixed        what is open now (stdio, the poller, listening sockets, log files), the
//                admin endpoint's connections and its reserve, and 8 for the work of a
//                reload (the pipes of a config check)
//   pipes        1/16 of the rest, at most 1024 pipes (2 descriptors each), pooled or in
//                use (netpoll's set_pipe_limits); past it a chunk is copied through a
//                buffer, which needs no descriptor
//   connections  half of what then remains: the slots below
//
// Every data listener's accept loop takes a slot before it accepts (after the listener's
// own max_connections slot) and gives it back when the connection ends. With no slot
// free, it waits, and new clients wait in the kernel's backlog, as at max_connections.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/accept_loop.h"

namespace parkway::proxy {

class DescriptorBudget {
 public:
  struct Shares {
    int64_t limit = 0;  // RLIMIT_NOFILE (soft)
    int64_t fixed = 0;
    int64_t pipes = 0;        // pipes, 2 descriptors each
    int64_t connections = 0;  // connection slots, 2 descriptors each
  };

  // Divides `limit` given `open_now` descriptors and the admin endpoint's
  // `admin_connections` (0 without one).
  static Shares divide(int64_t limit, int64_t open_now, int64_t admin_connections);

  // Divides the process's limit as it is now, sets the pipe limits and the slots, and
  // returns the shares.
  Shares apply(int64_t admin_connections);

  ConnectionLimit& slots() { return slots_; }
  Shares shares() const { return shares_; }

 private:
  Shares shares_;
  ConnectionLimit slots_{0};
};

// "limit 1024: 511 connections, 31 pipes, 16 fixed", for the log.
std::string describe(const DescriptorBudget::Shares& s);

}  // namespace parkway::proxy
