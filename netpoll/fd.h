// FD: a non-blocking file descriptor registered with the poller, safe to use from many
// goroutines at once (Go's internal/poll.FD).
//
// Every operation follows the same loop: try the syscall; on EAGAIN park on the
// PollDesc until the poller, a deadline or close wakes us; try again. Operations on one
// direction are serialised (FDMutex), so at most one goroutine waits per direction.
//
// Lifetime: close() marks the FD closed, wakes every parked operation with Errc::closed,
// and returns once the descriptor is really closed, which happens when the last
// operation still using it has returned. Until then the number stays ours, so an
// operation that raced with close() never touches a reused descriptor. After close()
// every operation fails with Errc::closed. The FD object itself must outlive every
// goroutine that may still call it (the owner joins them before destroying it).
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <span>

#include "netpoll/address.h"
#include "netpoll/error.h"
#include "netpoll/fd_mutex.h"
#include "netpoll/poll_desc.h"
#include "scheduler/sync.h"
#include "scheduler/time.h"

namespace parkway::net {

class FD {
 public:
  // Takes ownership of sysfd, which must be non-blocking and close-on-exec, and registers
  // it with the poller. On failure sysfd is closed.
  static Result<std::unique_ptr<FD>> open(int sysfd);
  ~FD();  // closes if still open
  FD(const FD&) = delete;
  FD& operator=(const FD&) = delete;

  // Reads up to buf.size() bytes; {0, no error} is end of stream.
  IoResult read(std::span<std::byte> buf);
  // Writes all of buf (MSG_NOSIGNAL: a closed peer is an error value, never SIGPIPE).
  IoResult write_all(std::span<const std::byte> buf);
  // accept4(SOCK_NONBLOCK|SOCK_CLOEXEC), retrying EINTR and ECONNABORTED, parking on
  // EAGAIN. EMFILE, ENFILE, ENOBUFS and ENOMEM come back as errors at once, so that the
  // caller can back off instead of spinning. Returns the new descriptor.
  Result<int> accept(SocketAddress* peer);
  // Completes a non-blocking connect that returned EINPROGRESS, by `deadline` (which it
  // sets as the write deadline, and clears after).
  std::error_code wait_connected(Time deadline);
  // The same by whatever write deadline is set, which it leaves alone: another goroutine
  // may set it (into the past, to abort) or close the FD while this waits.
  std::error_code wait_connected();
  std::error_code shutdown(int how);
  // See above. Returns Errc::closed if already closed.
  std::error_code close();

  // Deadlines apply to operations in progress and to later ones; kNoDeadline clears.
  void set_read_deadline(Time t) { set_deadline(t, true, false); }
  void set_write_deadline(Time t) { set_deadline(t, false, true); }
  void set_deadline(Time t) { set_deadline(t, true, true); }

  // Runs op(sysfd) under the lock of `mode` until it returns anything but -EAGAIN, parking
  // until the FD is ready in between (or, with wait == false, returning EAGAIN instead).
  // op returns a byte count >= 0 or -errno. For syscalls this class has no method for
  // (splice, setsockopt).
  template <class Op>
  IoResult io(Mode mode, bool wait, Op op);
  // Parks until the FD is ready for `mode` (or deadline/close).
  std::error_code wait(Mode mode);
  // Runs op(sysfd) holding a reference (the descriptor cannot be closed meanwhile) and
  // returns what op returns, or kClosedResult if the FD is closed.
  static constexpr int kClosedResult = INT_MIN;
  template <class Op>
  int with_fd(Op op);

  bool closed() const { return pd_->check_error(Mode::read) == Errc::closed; }
  // Whether a read that returned fewer bytes than it asked for has left nothing to read
  // (so that the next thing to read comes with a new edge): for a TCP socket, until an
  // event reported a hangup, an error or urgent data (PollDesc::hung_up). Not for other
  // sockets: a Unix-domain stream read also stops short at a message that carries
  // descriptors or different credentials, with bytes behind it and no edge to come.
  bool short_read_drains() const { return tcp_ && !pd_->hung_up(); }
  // Says that this is a TCP socket (the code that made it knows; FDs are not TCP unless
  // told).
  void mark_tcp() { tcp_ = true; }
  bool tcp() const { return tcp_; }
  bool hung_up() const { return pd_->hung_up(); }  // for tests
  PollDesc* poll_desc() const { return pd_; }      // for tests

 private:
  FD(int sysfd, PollDesc* pd) : sysfd_(sysfd), pd_(pd) {}
  void set_deadline(Time t, bool read, bool write);
  void destroy();

  int sysfd_;
  PollDesc* pd_;
  bool tcp_ = false;  // constant once the FD is shared
  FDMutex mu_;
  Semaphore closed_;  // released by destroy(); close() waits on it
};

// ---- templates ------------------------------------------------------------------------

template <class Op>
IoResult FD::io(Mode mode, bool wait_ready, Op op) {
  const bool read = mode == Mode::read;
  if (!mu_.rwlock(read)) return {0, Errc::closed};
  IoResult r;
  if (auto prep = pd_->prepare(mode)) {
    r.error = prep;
  } else {
    for (;;) {
      const ssize_t n = op(sysfd_);
      if (n >= 0) {
        r.bytes = static_cast<size_t>(n);
        break;
      }
      if (n == -EINTR) continue;
      if (n == -EAGAIN && wait_ready) {
        if (auto ec = pd_->wait(mode)) {
          r.error = ec;
          break;
        }
        continue;
      }
      r.error = errno_code(static_cast<int>(-n));
      break;
    }
  }
  if (mu_.rwunlock(read)) destroy();
  return r;
}

template <class Op>
int FD::with_fd(Op op) {
  if (!mu_.incref()) return kClosedResult;
  int r = op(sysfd_);
  if (mu_.decref()) destroy();
  return r;
}

}  // namespace parkway::net
