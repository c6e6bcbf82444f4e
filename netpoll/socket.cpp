#include "netpoll/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace parkway::net {
namespace {

std::error_code fd_op_error(int r) {
  if (r == FD::kClosedResult) return Errc::closed;
  return r < 0 ? errno_code(-r) : std::error_code{};
}

Result<SocketAddress> sock_name(FD& fd, bool peer) {
  SocketAddress out;
  int r = fd.with_fd([&](int s) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(s, reinterpret_cast<sockaddr*>(&ss), &len)
                  : getsockname(s, reinterpret_cast<sockaddr*>(&ss), &len);
    if (rc != 0) return -current_errno();
    out = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    return 0;
  });
  if (auto ec = fd_op_error(r)) return ec;
  return out;
}

int set_int_option(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -current_errno();
}

// poll(2) with no timeout for `events` on one descriptor: the revents, or 0.
short poll_now(int s, short events) {
  pollfd p{s, events, 0};
  return ::poll(&p, 1, 0) == 1 ? p.revents : 0;
}

}  // namespace

Result<Conn> Conn::start_dial(const SocketAddress& addr, Time deadline) {
  int s = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s < 0) return errno_code(current_errno());
  int rc = ::connect(s, addr.sockaddr_ptr(), addr.length());
  const int connect_errno = rc == 0 ? 0 : current_errno();
  if (rc != 0 && connect_errno != EINPROGRESS && connect_errno != EINTR) {
    ::close(s);
    return errno_code(connect_errno);
  }
  auto fd = FD::open(s);
  if (!fd) return fd.error();
  (*fd)->mark_tcp();
  Conn conn(std::move(*fd));
  // Before anyone else can see the Conn, so that no abort can come before it.
  if (deadline != kNoDeadline) conn.fd_->set_write_deadline(deadline);
  conn.connecting_ = rc != 0;
  return conn;
}

std::error_code Conn::finish_dial() {
  if (!fd_) return Errc::closed;
  if (!connecting_) return {};
  connecting_ = false;
  return fd_->wait_connected();
}

Result<Conn> Conn::dial(const SocketAddress& addr, Time deadline) {
  auto conn = start_dial(addr, deadline);
  if (!conn) return conn;
  if (auto ec = conn->finish_dial()) return ec;  // the Conn closes itself
  if (deadline != kNoDeadline) conn->set_write_deadline(kNoDeadline);
  return conn;
}

std::error_code Conn::shutdown_write() { return fd_ ? fd_->shutdown(SHUT_WR) : Errc::closed; }

std::error_code Conn::close_with_reset() {
  if (!fd_) return Errc::closed;
  linger l{1, 0};
  fd_->with_fd([&](int s) { return setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l); });
  return close();
}

std::error_code Conn::set_nodelay(bool on) {
  if (!fd_) return Errc::closed;
  return fd_op_error(
      fd_->with_fd([on](int s) { return set_int_option(s, IPPROTO_TCP, TCP_NODELAY, on); }));
}

std::error_code Conn::set_keepalive(bool on, Duration idle, Duration interval, int count) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const int idle_s = static_cast<int>(std::max<int64_t>(1, duration_cast<seconds>(idle).count()));
  const int intvl_s =
      static_cast<int>(std::max<int64_t>(1, duration_cast<seconds>(interval).count()));
  if (!fd_) return Errc::closed;
  return fd_op_error(fd_->with_fd([&](int s) {
    if (int r = set_int_option(s, SOL_SOCKET, SO_KEEPALIVE, on); r < 0 || !on) return r;
    if (int r = set_int_option(s, IPPROTO_TCP, TCP_KEEPIDLE, idle_s); r < 0) return r;
    if (int r = set_int_option(s, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s); r < 0) return r;
    return set_int_option(s, IPPROTO_TCP, TCP_KEEPCNT, count);
  }));
}

Result<SocketAddress> Conn::local_address() const {
  if (!fd_) return Errc::closed;
  return sock_name(*fd_, false);
}
Result<SocketAddress> Conn::peer_address() const {
  if (!fd_) return Errc::closed;
  return sock_name(*fd_, true);
}

bool Conn::pending_error() {
  // poll(2) reports POLLERR while the socket's error is set. POLLHUP alone is no error: it
  // is also what a socket that finished both ways in order reports.
  if (!fd_) return false;
  return fd_->with_fd([](int s) { return (poll_now(s, POLLIN) & POLLERR) != 0 ? 1 : 0; }) == 1;
}

bool Conn::was_reset() {
  if (!fd_) return false;
  return fd_->with_fd([](int s) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_state == TCP_CLOSE ? 1 : 0;
  }) == 1;
}

Result<Listener> Listener::listen(const SocketAddress& addr, const ListenOptions& opts) {
  int s = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s < 0) return errno_code(current_errno());
  auto fail = [s](int e) -> Result<Listener> {
    ::close(s);
    return errno_code(e);
  };
  if (opts.reuse_addr && set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
    return fail(current_errno());
  if (opts.reuse_port && set_int_option(s, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
    return fail(current_errno());
  if (addr.family() == AF_INET6 &&
      set_int_option(s, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only ? 1 : 0) < 0) {
    return fail(current_errno());
  }
  if (::bind(s, addr.sockaddr_ptr(), addr.length()) != 0) return fail(current_errno());
  if (::listen(s, opts.backlog) != 0) return fail(current_errno());
  auto fd = FD::open(s);
  if (!fd) return fd.error();
  (*fd)->mark_tcp();
  return Listener(std::move(*fd));
}

Result<Listener> Listener::adopt(int s) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno_code(errno);
  len = sizeof listening;
  if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) return errno_code(errno);
  if (type != SOCK_STREAM || !listening) return errno_code(EINVAL);
  int protocol = 0;
  len = sizeof protocol;
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return errno_code(errno);
  int fl = fcntl(s, F_GETFL);
  if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0) return errno_code(errno);
  if (fcntl(s, F_SETFD, FD_CLOEXEC) != 0) return errno_code(errno);
  auto fd = FD::open(s);
  if (!fd) return fd.error();
  if (protocol == IPPROTO_TCP) (*fd)->mark_tcp();  // not a Unix-domain listener
  return Listener(std::move(*fd));
}

Result<Conn> Listener::accept(SocketAddress* peer) {
  if (!fd_) return Errc::closed;
  auto s = fd_->accept(peer);
  if (!s) return s.error();
  auto fd = FD::open(*s);
  if (!fd) return fd.error();
  if (fd_->tcp()) (*fd)->mark_tcp();
  return Conn(std::move(*fd));
}

bool Listener::connection_waiting() {
  if (!fd_) return false;
  return fd_->with_fd([](int s) { return (poll_now(s, POLLIN) & POLLIN) != 0 ? 1 : 0; }) == 1;
}

std::error_code Listener::set_backlog(int backlog) {
  if (!fd_) return Errc::closed;
  return fd_op_error(
      fd_->with_fd([backlog](int s) { return ::listen(s, backlog) == 0 ? 0 : -current_errno(); }));
}

Result<SocketAddress> Listener::local_address() const {
  if (!fd_) return Errc::closed;
  return sock_name(*fd_, false);
}

}  // namespace parkway::net
