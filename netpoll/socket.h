// TCP sockets for goroutines: Listener and Conn.
//
// Blocking-style calls that park the calling goroutine (never its thread) until they can
// proceed, with deadlines, returning errors as values. Call them from goroutines.
//
//   auto ln = net::Listener::listen(*net::SocketAddress::parse("127.0.0.1:8080"));
//   for (;;) {
//     auto conn = ln->accept();                 // parks until a client connects
//     if (!conn) { ... back off if net::is_resource_exhausted(conn.error()) ... }
//     go([c = std::move(*conn)]() mutable { echo(c); });
//   }
#pragma once

#include <memory>
#include <span>
#include <utility>

#include "netpoll/address.h"
#include "netpoll/error.h"
#include "netpoll/fd.h"
#include "scheduler/time.h"

namespace parkway::net {

class Conn {
 public:
  Conn() = default;
  explicit Conn(std::unique_ptr<FD> fd) : fd_(std::move(fd)) {}
  Conn(Conn&& o) noexcept
      : fd_(std::move(o.fd_)), connecting_(std::exchange(o.connecting_, false)) {}
  Conn& operator=(Conn&& o) noexcept {
    fd_ = std::move(o.fd_);
    connecting_ = std::exchange(o.connecting_, false);
    return *this;
  }
  ~Conn() = default;  // the FD closes itself

  // Non-blocking connect, then park until connected, refused, unreachable or `deadline`
  // (Errc::timeout). start_dial() + finish_dial(), then the write deadline cleared.
  static Result<Conn> dial(const SocketAddress& addr, Time deadline = kNoDeadline);

  // Dialling in two steps, so that another goroutine can cut a connect short: start_dial
  // creates the socket, registers it, starts the non-blocking connect and returns the
  // Conn at once, with `deadline` as its write deadline. finish_dial() then parks until
  // the connect completes or fails, the write deadline passes (Errc::timeout) or the Conn
  // is closed (Errc::closed). Meanwhile its owner may, from any goroutine, set the write
  // deadline (into the past: the wait ends at once with Errc::timeout, which is how Go's
  // net.Dialer interrupts a connect whose context is cancelled) or close() the Conn.
  // finish_dial() never changes the deadline itself, so such an abort cannot be lost to
  // it, even one made before finish_dial() was called; the caller sets the deadlines it
  // wants afterwards. The owner must keep the Conn alive until finish_dial() returns.
  static Result<Conn> start_dial(const SocketAddress& addr, Time deadline = kNoDeadline);
  // After start_dial(): see above. Returns at once if the connect completed in start_dial;
  // again after it has returned, returns its first result's success only (no error once
  // connected).
  std::error_code finish_dial();

  bool valid() const { return fd_ != nullptr; }
  // {0, no error} is end of stream.
  // An empty (moved-from) Conn fails every operation with Errc::closed.
  IoResult read(std::span<std::byte> buf) {
    return fd_ ? fd_->read(buf) : IoResult{0, Errc::closed};
  }
  IoResult write_all(std::span<const std::byte> buf) {
    return fd_ ? fd_->write_all(buf) : IoResult{0, Errc::closed};
  }
  // Half-close: send FIN; reading goes on.
  std::error_code shutdown_write();
  std::error_code close() { return fd_ ? fd_->close() : std::error_code{}; }
  // Closes with a RST instead of a FIN (SO_LINGER 0): for tests and aborting peers.
  std::error_code close_with_reset();

  void set_read_deadline(Time t) {
    if (fd_) fd_->set_read_deadline(t);
  }
  void set_write_deadline(Time t) {
    if (fd_) fd_->set_write_deadline(t);
  }
  void set_deadline(Time t) {
    if (fd_) fd_->set_deadline(t);
  }

  std::error_code set_nodelay(bool on);
  // TCP keepalive: first probe after `idle`, then every `interval`, `count` probes.
  std::error_code set_keepalive(bool on, Duration idle = std::chrono::seconds(60),
                                Duration interval = std::chrono::seconds(15), int count = 4);
  Result<SocketAddress> local_address() const;
  Result<SocketAddress> peer_address() const;

  // Whether the socket has an error pending (a reset received, say), without consuming
  // it. An orderly end of stream from the peer is no error.
  bool pending_error();
  // Whether the connection was reset: the socket is in TCP's CLOSE state while our side
  // is still open (an orderly end of stream from the peer leaves it in CLOSE_WAIT).
  bool was_reset();

  FD& fd() { return *fd_; }

 private:
  std::unique_ptr<FD> fd_;
  bool connecting_ = false;  // start_dial's connect is in progress (EINPROGRESS)
};

struct ListenOptions {
  int backlog = 4096;
  bool reuse_addr = true;   // SO_REUSEADDR: rebind at once after a restart
  bool reuse_port = false;  // SO_REUSEPORT: share the address between sockets/processes
  // IPV6_V6ONLY: "[::]:80" accepts IPv6 only, whatever net.ipv6.bindv6only says; listen
  // on "0.0.0.0:80" as well for IPv4. Explicit, so that both can be configured together.
  bool v6_only = true;
};

class Listener {
 public:
  Listener() = default;
  explicit Listener(std::unique_ptr<FD> fd) : fd_(std::move(fd)) {}
  Listener(Listener&&) noexcept = default;
  Listener& operator=(Listener&&) noexcept = default;

  static Result<Listener> listen(const SocketAddress& addr, const ListenOptions& opts = {});
  // Takes over an inherited listening socket (systemd socket activation): checks that it
  // is a listening stream socket, makes it non-blocking and close-on-exec.
  static Result<Listener> adopt(int fd);

  bool valid() const { return fd_ != nullptr; }
  // Parks until a connection arrives. Errors: Errc::closed, and the resource errors of
  // is_resource_exhausted(), returned at once.
  Result<Conn> accept(SocketAddress* peer = nullptr);
  // Whether a connection is waiting to be accepted, without accepting it (needs no
  // descriptor: useful when accept fails for lack of one).
  bool connection_waiting();
  // listen(2) again with another backlog (the kernel allows it on a listening socket).
  std::error_code set_backlog(int backlog);
  Result<SocketAddress> local_address() const;
  std::error_code close() { return fd_ ? fd_->close() : std::error_code{}; }
  FD& fd() { return *fd_; }

 private:
  std::unique_ptr<FD> fd_;
};

}  // namespace parkway::net
