// Source rules: CIDR blocks ("10.0.0.0/8", "2001:db8::/32", a single host "192.168.1.7"),
// sets of them, and the allow/deny verdict for a client address.
//
//   "10.0.0.0/8"     IPv4 block, prefix 0..32       "192.168.1.7"   one host (= /32)
//   "2001:db8::/32"  IPv6 block, prefix 0..128      "::1"           one host (= /128)
//
// Strict, so that a rule means what it says:
//   - Host bits past the prefix are an error, not silently cleared: "10.1.2.3/8" is refused
//     with the hint "did you mean \"10.0.0.0/8\"?" (a typo for /32 or for the network must not
//     become a rule over 16 million addresses).
//   - The prefix is decimal without leading zeros or sign; IPv6 is never bracketed, has no
//     zone ("%eth0"), and its text is read with inet_pton (any case, compressed or not) and
//     printed canonically (RFC 5952), so "2001:DB8:0::/32" prints "2001:db8::/32".
//   - An IPv4-mapped IPv6 block (within ::ffff:0:0/96) is refused with a hint to write its
//     IPv4 form: clients are compared in IPv4 form (below), so one spelling per block.
//
// Client addresses: an IPv4 client that reached a dual-stack ("[::]") listener shows as
// ::ffff:a.b.c.d. Every comparison first turns such an address into the IPv4 address it
// maps (IpAddress::unmapped), so it matches IPv4 rules ("10.0.0.0/8") and never IPv6 ones;
// "::/0" is every IPv6 client, "0.0.0.0/0" every IPv4 client.
//
// Verdict (SourceRules): a client matching any deny rule is denied (deny wins); otherwise,
// when there are allow rules, a client matching none of them is not allowed; an empty
// allow list allows everyone. Both lists are CidrSets: sorted, merged ranges searched in
// O(log n), so a list of thousands of blocks costs a few comparisons per connection.
//
// conf/ knows nothing of sockets: addresses are family + bytes, as in conf::ListenAddress.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/address.h"
#include "conf/parsed.h"

namespace parkway::conf {

// An IP address without a port.
struct IpAddress {
  AddressFamily family = AddressFamily::ipv4;
  // Network byte order; an IPv4 address uses bytes[0..3] and leaves the rest zero.
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(const std::uint8_t* four);
  static IpAddress v6(const std::uint8_t* sixteen);
  // "10.0.0.1" or "2001:db8::1" (no brackets); nothing else.
  static Parsed<IpAddress> parse(std::string_view text);

  bool is_v4_mapped() const;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address a.b.c.d; any other
  // address unchanged.
  IpAddress unmapped() const;
  // "10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1".
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  AddressFamily family = AddressFamily::ipv4;
  // The network, in network byte order; every bit past `prefix` is zero.
  std::array<std::uint8_t, 16> bytes{};
  int prefix = 0;  // 0..32 for IPv4, 0..128 for IPv6

  // Whether `address` (unmapped first) is in this block. IPv4 blocks hold IPv4 addresses
  // only, IPv6 blocks IPv6 addresses only.
  bool contains(const IpAddress& address) const;
  // Canonical, always with the prefix: "10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32".
  std::string to_string() const;
  bool operator==(const Cidr&) const = default;
};

// "A.B.C.D", "A.B.C.D/N" (N 0..32), "IPv6" or "IPv6/N" (N 0..128), as described above.
Parsed<Cidr> parse_cidr(std::string_view text);

// Comma-separated blocks, at least one, as a command-line flag takes them:
// "10.0.0.0/8,192.168.0.0/16,::1". No spaces.
Parsed<std::vector<Cidr>> parse_cidr_list(std::string_view text);

// A set of blocks with an O(log n) membership test. Overlapping and nested blocks are
// fine (they merge); an empty set contains nothing.
class CidrSet {
 public:
  CidrSet() = default;
  explicit CidrSet(const std::vector<Cidr>& blocks);

  bool contains(const IpAddress& address) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }
  // Disjoint ranges after merging (for tests and introspection).
  std::size_t range_count() const { return v4_.size() + v6_.size(); }

  // An address as a 128-bit number, most significant half first.
  struct U128 {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    auto operator<=>(const U128&) const = default;
  };
  struct Range {
    U128 first;
    U128 last;  // inclusive
  };

 private:
  std::vector<Range> v4_;  // sorted by first, disjoint
  std::vector<Range> v6_;
};

// What the source rules say about a client; the names are counter labels.
enum class SourceVerdict {
  allowed,
  denied,       // it matched a deny rule (deny wins over allow)
  not_allowed,  // there are allow rules and it matched none
};
std::string_view to_string(SourceVerdict verdict);

class SourceRules {
 public:
  SourceRules() = default;  // no rules: everyone is allowed
  SourceRules(const std::vector<Cidr>& allow, const std::vector<Cidr>& deny);

  SourceVerdict check(const IpAddress& client) const;

 private:
  CidrSet allow_;
  CidrSet deny_;
};

}  // namespace parkway::conf
