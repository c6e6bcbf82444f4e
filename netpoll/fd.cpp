#include "netpoll/fd.h"

#include <sys/socket.h>
#include <unistd.h>

#include "netpoll/netpoll.h"

namespace parkway::net {

Result<std::unique_ptr<FD>> FD::open(int sysfd) {
  auto pd = NetPoller::get().open(sysfd);
  if (!pd) {
    ::close(sysfd);
    return pd.error();
  }
  return std::unique_ptr<FD>(new FD(sysfd, *pd));
}

FD::~FD() { close(); }

void FD::destroy() {
  // Unregister before closing: once closed, the number may be reused at once.
  NetPoller::get().close(pd_);
  ::close(sysfd_);
  sysfd_ = -1;
  closed_.release();
}

std::error_code FD::close() {
  if (!mu_.incref_and_close()) return Errc::closed;
  // Wake every parked operation; each returns Errc::closed and drops its reference.
  pd_->evict();
  if (mu_.decref()) destroy();
  closed_.acquire();  // until whoever held the last reference has destroyed it
  return {};
}

void FD::set_deadline(Time t, bool read, bool write) {
  if (!mu_.incref()) return;
  pd_->set_deadline(t, read, write);
  if (mu_.decref()) destroy();
}

IoResult FD::read(std::span<std::byte> buf) {
  if (buf.empty()) return {};
  return io(Mode::read, true, [&](int fd) -> ssize_t {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    return n >= 0 ? n : -current_errno();
  });
}

IoResult FD::write_all(std::span<const std::byte> buf) {
  size_t done = 0;
  IoResult r = io(Mode::write, true, [&](int fd) -> ssize_t {
    // Loop here, under one lock: a partial write is followed by a wait and the rest.
    while (done < buf.size()) {
      ssize_t n = ::send(fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
      if (n < 0) return -current_errno();
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(done);
  });
  r.bytes = done;
  return r;
}

Result<int> FD::accept(SocketAddress* peer) {
  int accepted = -1;
  IoResult r = io(Mode::read, true, [&](int fd) -> ssize_t {
    for (;;) {
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int s = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (s >= 0) {
        accepted = s;
        if (peer) *peer = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
        return 0;
      }
      // A connection reset while it waited in the queue: just take the next one.
      const int e = current_errno();
      if (e == ECONNABORTED) continue;
      return -e;
    }
  });
  if (r.error) return r.error;
  return accepted;
}

std::error_code FD::wait_connected(Time deadline) {
  set_write_deadline(deadline);
  std::error_code result = wait_connected();
  set_write_deadline(kNoDeadline);
  return result;
}

std::error_code FD::wait_connected() {
  std::error_code result;
  for (;;) {
    if (auto ec = wait(Mode::write)) {
      result = ec;
      break;
    }
    // Ready for writing: did the connect succeed? SO_ERROR says; getpeername confirms
    // (the poller may wake us spuriously, e.g. for the EPOLLOUT registered up front).
    int err = 0;
    int r = with_fd([&](int fd) {
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -current_errno();
      if (err != 0) return 0;
      sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      return getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0 ? 1 : 0;
    });
    if (r == kClosedResult) {
      result = Errc::closed;
      break;
    }
    if (r < 0) {
      result = errno_code(-r);
      break;
    }
    if (r == 1) break;  // connected
    if (err == 0 || err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    result = errno_code(err);
    break;
  }
  return result;
}

std::error_code FD::wait(Mode mode) {
  const bool read = mode == Mode::read;
  if (!mu_.rwlock(read)) return Errc::closed;
  std::error_code ec = pd_->wait(mode);
  if (mu_.rwunlock(read)) destroy();
  return ec;
}

std::error_code FD::shutdown(int how) {
  int r = with_fd([how](int fd) { return ::shutdown(fd, how) == 0 ? 0 : -current_errno(); });
  if (r == kClosedResult) return Errc::closed;
  return r < 0 ? errno_code(-r) : std::error_code{};
}

}  // namespace parkway::net
