// SocketAddress: an IPv4 or IPv6 address and port, as the kernel takes it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace parkway::net {

class SocketAddress {
 public:
  // Every byte zeroed, the union's larger members too (a `{}` initialiser zeroes only the
  // first member, sockaddr's 16 bytes: sin6_scope_id would be garbage, and operator==,
  // which compares the bytes, would say that equal addresses differ).
  SocketAddress() { std::memset(&sa_, 0, sizeof sa_); }
  // "192.0.2.1:80", "[2001:db8::1]:443". IP literals only: names are resolved elsewhere.
  static std::optional<SocketAddress> parse(std::string_view text);
  static SocketAddress ipv4(const uint8_t bytes[4], uint16_t port);
  static SocketAddress ipv6(const uint8_t bytes[16], uint16_t port);
  static SocketAddress loopback_v4(uint16_t port);
  static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return sa_.generic.sa_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  // "192.0.2.1:80" or "[2001:db8::1]:443"; "(none)" when empty.
  std::string to_string() const;
  // Just the IP, without brackets or port.
  std::string ip_string() const;

  const sockaddr* sockaddr_ptr() const { return &sa_.generic; }
  socklen_t length() const { return len_; }
  bool empty() const { return len_ == 0; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  // IPv4 or IPv6 only: 28 bytes, not sockaddr_storage's 128 (a connection keeps two).
  union Storage {
    sockaddr generic;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage sa_;
  socklen_t len_ = 0;
};

}  // namespace parkway::net
