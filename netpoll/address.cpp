#include "netpoll/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace parkway::net {
namespace {

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    in6_addr a6;
    auto port = parse_port(port_text);
    if (!port || inet_pton(AF_INET6, host.c_str(), &a6) != 1) return std::nullopt;
    return ipv6(a6.s6_addr, *port);
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  host = std::string(text.substr(0, colon));
  port_text = text.substr(colon + 1);
  in_addr a4;
  auto port = parse_port(port_text);
  if (!port || inet_pton(AF_INET, host.c_str(), &a4) != 1) return std::nullopt;
  return ipv4(reinterpret_cast<const uint8_t*>(&a4.s_addr), *port);
}

SocketAddress SocketAddress::ipv4(const uint8_t bytes[4], uint16_t port) {
  SocketAddress a;
  auto* sin = &a.sa_.v4;
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  std::memcpy(&sin->sin_addr.s_addr, bytes, 4);
  a.len_ = sizeof(sockaddr_in);
  return a;
}

SocketAddress SocketAddress::ipv6(const uint8_t bytes[16], uint16_t port) {
  SocketAddress a;
  auto* sin6 = &a.sa_.v6;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(sin6->sin6_addr.s6_addr, bytes, 16);
  a.len_ = sizeof(sockaddr_in6);
  return a;
}

SocketAddress SocketAddress::loopback_v4(uint16_t port) {
  const uint8_t lo[4] = {127, 0, 0, 1};
  return ipv4(lo, port);
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  if (len > 0 && len <= static_cast<socklen_t>(sizeof a.sa_) &&
      (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
    std::memcpy(&a.sa_, sa, len);
    a.len_ = len;
  }
  return a;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(sa_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(sa_.v6.sin6_port);
  return 0;
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET) sa_.v4.sin_port = htons(port);
  if (family() == AF_INET6) sa_.v6.sin6_port = htons(port);
}

std::string SocketAddress::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &sa_.v4.sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &sa_.v6.sin6_addr, buf, sizeof buf);
  } else {
    return "";
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  if (family() == AF_INET) return ip_string() + ":" + std::to_string(port());
  if (family() == AF_INET6) return "[" + ip_string() + "]:" + std::to_string(port());
  return "(none)";
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.len_ == b.len_ && std::memcmp(&a.sa_, &b.sa_, a.len_) == 0;
}

}  // namespace parkway::net
