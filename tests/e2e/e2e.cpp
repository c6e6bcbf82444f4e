#include "tests/e2e/e2e.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace parkway::e2e {

RefusedPort::RefusedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd_);
    throw std::runtime_error("bind failed");
  }
  port_ = ntohs(sa.sin_port);
}

RefusedPort::~RefusedPort() { ::close(fd_); }

FullBacklog::FullBacklog() : ln_(test::listen_local({.backlog = 1})) {
  const auto addr = *ln_.local_address();
  // The kernel queues backlog + 1 connections; the next SYN is dropped, and that dial
  // times out. A handful of tries is plenty.
  for (int i = 0; i < 16 && !full_; i++) {
    auto c = net::Conn::dial(addr, now() + 300ms);
    if (c) {
      queued_.push_back(std::move(*c));
    } else if (net::is_timeout(c.error())) {
      full_ = true;
    }
  }
}

}  // namespace parkway::e2e
