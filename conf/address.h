// Network addresses in the config: where a listener binds (ListenAddress, an IP literal and
// a port) and where a cluster connects (Endpoint, an IP literal or a DNS name, and a port).
//
//   listen:    "127.0.0.1:10080"  "0.0.0.0:80"  "[::1]:10080"  "[::]:80"     port 0..65535
//   endpoint:  "10.0.0.5:80"  "[2001:db8::1]:443"  "redis-a:6379"  "db.internal:5432"
//                                                                            port 1..65535
//
// A listen address is never a DNS name: what a name resolves to may change, a bound socket
// cannot. Port 0 lets the kernel pick (tests use it). IPv6 literals are always bracketed;
// IP literals are read with inet_pton and printed canonically, so "[0::1]:80" and
// "[::1]:80" are the same endpoint. DNS names follow RFC 1123: dot-separated labels of
// 1..63 letters, digits and '-' (not first or last), 253 characters in all; a name whose
// last label is all digits is taken for a mistyped IPv4 address and refused.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/parsed.h"

namespace parkway::conf {

enum class AddressFamily { ipv4, ipv6 };

struct ListenAddress {
  AddressFamily family = AddressFamily::ipv4;
  // Network byte order; an IPv4 address uses bytes[0..3] and leaves the rest zero.
  std::array<std::uint8_t, 16> bytes{};
  std::uint16_t port = 0;

  // "127.0.0.1:80", "[::1]:80".
  std::string to_string() const;
  bool operator==(const ListenAddress&) const = default;
};

struct Endpoint {
  enum class Kind { ipv4, ipv6, dns_name };

  // An IP literal in canonical form without brackets ("10.0.0.5", "2001:db8::1"), or a DNS
  // name as written.
  std::string host;
  std::uint16_t port = 0;
  Kind kind = Kind::dns_name;
  // Its share of the cluster's connections, relative to the other endpoints' (1..256).
  int weight = 1;
  // Used only when no primary (not backup) endpoint is healthy.
  bool backup = false;

  // "10.0.0.5:80", "[2001:db8::1]:443", "redis-a:6379": the endpoint's name.
  std::string to_string() const;
  // As a -L upstream takes it: the name, then "/weight=N" and "/backup" where they are not
  // the defaults ("a:80/weight=3", "b:80/backup").
  std::string to_spec() const;
  bool operator==(const Endpoint&) const = default;
};

inline constexpr int max_endpoint_weight = 256;

// "A.B.C.D:PORT" or "[IPv6]:PORT", port 0..65535.
Parsed<ListenAddress> parse_listen_address(std::string_view text);

// "host:port" or "[IPv6]:port", host an IP literal or an RFC 1123 DNS name, port 1..65535.
Parsed<Endpoint> parse_endpoint(std::string_view text);
// An endpoint with options, as -L takes it: "host:port" then any of "/weight=N" (1..256)
// and "/backup".
Parsed<Endpoint> parse_endpoint_spec(std::string_view text);

// Whether two endpoints name the same host and port (DNS names compare case-insensitively).
bool same_endpoint(const Endpoint& a, const Endpoint& b);

}  // namespace parkway::conf
