// DNS resolution for cluster endpoints: the only place parkway uses Asio.
//
// getaddrinfo blocks, so it must not run on a goroutine's thread. Resolver owns an Asio
// io_context on a thread of its own; resolve() posts the query there and parks the asking
// goroutine on a Notification until the answer (or the timeout) readies it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netpoll/address.h"
#include "netpoll/error.h"
#include "scheduler/time.h"

namespace parkway::proxy {

class Resolver {
 public:
  Resolver();
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Addresses of host (A and AAAA records, or /etc/hosts) with port, in the order the
  // system returns them. Errc::timeout if no answer came within `timeout`.
  net::Result<std::vector<net::SocketAddress>> resolve(const std::string& host, uint16_t port,
                                                       Duration timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parkway::proxy
