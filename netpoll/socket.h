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

#include "netpoll/address.h"
#include "netpoll/error.h"
#include "netpoll/fd.h"
#include "scheduler/time.h"

namespace parkway::net {

class Conn {
 public:
  Conn() = default;
  explicit Conn(std::unique_ptr<FD> fd) : fd_(std::move(fd)) {}
  Conn(Conn&&) noexcept = default;
  Conn& operator=(Conn&&) noexcept = default;
  ~Conn() = default;  // the FD closes itself

  // Non-blocking connect, then park until connected, refused, unreachable or `deadline`
  // (Errc::timeout).
  static Result<Conn> dial(const SocketAddress& addr, Time deadline = kNoDeadline);

  bool valid() const { return fd_ != nullptr; }
  // {0, no error} is end of stream.
  // An empty (moved-from) Conn fails every operation with Errc::closed.
  IoResult read(std::span<std::byte> buf) { return fd_ ? fd_->read(buf) : IoResult{0, Errc::closed}; }
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

  FD& fd() { return *fd_; }

 private:
  std::unique_ptr<FD> fd_;
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
  Result<SocketAddress> local_address() const;
  std::error_code close() { return fd_ ? fd_->close() : std::error_code{}; }
  FD& fd() { return *fd_; }

 private:
  std::unique_ptr<FD> fd_;
};

}  // namespace parkway::net
