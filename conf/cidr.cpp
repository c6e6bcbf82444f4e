// CIDR blocks, sets of them and source rules; the forms and rules are in conf/cidr.h.
#include "conf/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace parkway::conf {
namespace {

constexpr std::string_view cidr_expected =
    R"(expected an IP address or CIDR block such as "10.0.0.0/8", "192.168.1.7" or "2001:db8::/32")";
constexpr std::string_view ip_expected =
    R"(expected an IP address such as "10.0.0.1" or "2001:db8::1")";

std::string with_reason(std::string_view expected, std::string_view why) {
  std::string out(expected);
  out += " (";
  out += why;
  out += ')';
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A decimal number without sign or leading zeros ("0" itself is fine), at most `max`.
bool parse_small_decimal(std::string_view text, int max, int* out) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return false;
  int value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

// Exactly four dot-separated decimal octets 0..255 without leading zeros.
bool parse_ipv4(std::string_view text, std::uint8_t* out4) {
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = text.find('.');
    if (i == 3) {
      if (dot != std::string_view::npos) return false;
      dot = text.size();
    } else if (dot == std::string_view::npos) {
      return false;
    }
    int octet = 0;
    if (!parse_small_decimal(text.substr(0, dot), 255, &octet)) return false;
    out4[i] = static_cast<std::uint8_t>(octet);
    text.remove_prefix(std::min(dot + 1, text.size()));
  }
  return true;
}

bool parse_ipv6(std::string_view text, std::uint8_t* out16) {
  if (text.empty() || text.size() > 45) return false;
  for (const char c : text) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  const std::string copy(text);  // inet_pton needs a NUL-terminated string
  return inet_pton(AF_INET6, copy.c_str(), out16) == 1;
}

int max_prefix(AddressFamily family) { return family == AddressFamily::ipv4 ? 32 : 128; }

// Clears every bit of `bytes` past the first `prefix` bits.
std::array<std::uint8_t, 16> masked(const std::array<std::uint8_t, 16>& bytes, int prefix) {
  std::array<std::uint8_t, 16> out{};
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(prefix - 8 * i, 0, 8);
    out[i] = bits == 0 ? 0 : static_cast<std::uint8_t>(bytes[i] & (0xff << (8 - bits)));
  }
  return out;
}

bool v4_mapped_bytes(const std::array<std::uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

CidrSet::U128 to_u128(const std::array<std::uint8_t, 16>& b, AddressFamily family) {
  CidrSet::U128 v;
  if (family == AddressFamily::ipv4) {
    v.lo = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) |
           std::uint64_t{b[3]};
    return v;
  }
  for (int i = 0; i < 8; ++i) v.hi = (v.hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) v.lo = (v.lo << 8) | b[i];
  return v;
}

// The first and last address of a block, as numbers.
CidrSet::Range range_of(const Cidr& block) {
  CidrSet::Range r;
  r.first = to_u128(block.bytes, block.family);
  r.last = r.first;
  const int host_bits = max_prefix(block.family) - block.prefix;  // 0..128
  if (host_bits >= 64) {
    r.last.lo = ~std::uint64_t{0};
    r.last.hi |= host_bits == 128 ? ~std::uint64_t{0} : (std::uint64_t{1} << (host_bits - 64)) - 1;
  } else if (host_bits > 0) {
    r.last.lo |= (std::uint64_t{1} << host_bits) - 1;
  }
  return r;
}

std::vector<CidrSet::Range> merged(std::vector<CidrSet::Range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CidrSet::Range& a, const CidrSet::Range& b) { return a.first < b.first; });
  std::vector<CidrSet::Range> out;
  for (const CidrSet::Range& r : ranges) {
    // CIDR blocks are either disjoint or nested, so an overlap is a containment.
    if (!out.empty() && r.first <= out.back().last) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool in_ranges(const std::vector<CidrSet::Range>& ranges, CidrSet::U128 v) {
  // The last range starting at or before v is the only one that can hold it.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), v,
                             [](CidrSet::U128 x, const CidrSet::Range& r) { return x < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return v <= it->last;
}

}  // namespace

IpAddress IpAddress::v4(const std::uint8_t* four) {
  IpAddress a;
  a.family = AddressFamily::ipv4;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

IpAddress IpAddress::v6(const std::uint8_t* sixteen) {
  IpAddress a;
  a.family = AddressFamily::ipv6;
  std::memcpy(a.bytes.data(), sixteen, 16);
  return a;
}

Parsed<IpAddress> IpAddress::parse(std::string_view text) {
  std::array<std::uint8_t, 16> bytes{};
  if (text.find(':') != std::string_view::npos) {
    if (!parse_ipv6(text, bytes.data()))
      return Parsed<IpAddress>::failure(std::string(ip_expected));
    return v6(bytes.data());
  }
  if (!parse_ipv4(text, bytes.data())) return Parsed<IpAddress>::failure(std::string(ip_expected));
  return v4(bytes.data());
}

bool IpAddress::is_v4_mapped() const {
  return family == AddressFamily::ipv6 && v4_mapped_bytes(bytes);
}

IpAddress IpAddress::unmapped() const { return is_v4_mapped() ? v4(bytes.data() + 12) : *this; }

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AddressFamily::ipv4 ? AF_INET : AF_INET6, bytes.data(), buffer,
            sizeof buffer);
  return buffer;
}

bool Cidr::contains(const IpAddress& address) const {
  const IpAddress a = address.unmapped();
  if (a.family != family) return false;
  return masked(a.bytes, prefix) == bytes;
}

std::string Cidr::to_string() const {
  IpAddress network;
  network.family = family;
  network.bytes = bytes;
  return network.to_string() + "/" + std::to_string(prefix);
}

Parsed<Cidr> parse_cidr(std::string_view text) {
  if (text.empty()) return Parsed<Cidr>::failure(with_reason(cidr_expected, "nothing was given"));
  if (text.front() == '[') {
    return Parsed<Cidr>::failure(
        with_reason(cidr_expected, "no brackets: IPv6 blocks are written \"2001:db8::/32\""));
  }
  std::string_view address_text = text;
  std::string_view prefix_text;
  const std::size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    prefix_text = text.substr(slash + 1);
  }

  Cidr block;
  if (address_text.find(':') != std::string_view::npos) {
    block.family = AddressFamily::ipv6;
    if (!parse_ipv6(address_text, block.bytes.data())) {
      return Parsed<Cidr>::failure(with_reason(cidr_expected, "not a valid IPv6 address"));
    }
  } else if (!parse_ipv4(address_text, block.bytes.data())) {
    return Parsed<Cidr>::failure(
        with_reason(cidr_expected,
                    address_text.empty()
                        ? "the address is missing"
                        : "not a valid IPv4 address: four numbers 0..255 without leading zeros"));
  }

  const int max = max_prefix(block.family);
  block.prefix = max;
  if (slash != std::string_view::npos && !parse_small_decimal(prefix_text, max, &block.prefix)) {
    return Parsed<Cidr>::failure(
        with_reason(cidr_expected, "a prefix length 0.." + std::to_string(max) + " after the '/'"));
  }

  const std::array<std::uint8_t, 16> network = masked(block.bytes, block.prefix);
  if (block.family == AddressFamily::ipv6 && block.prefix >= 96 && v4_mapped_bytes(network)) {
    Cidr v4_form;
    v4_form.family = AddressFamily::ipv4;
    std::memcpy(v4_form.bytes.data(), network.data() + 12, 4);
    v4_form.prefix = block.prefix - 96;
    return Parsed<Cidr>::failure(
        with_reason(cidr_expected,
                    "an IPv4-mapped IPv6 block: IPv4 clients are matched in their IPv4 form"),
        "did you mean \"" + v4_form.to_string() + "\"?");
  }
  if (network != block.bytes) {
    Cidr fixed = block;
    fixed.bytes = network;
    return Parsed<Cidr>::failure(
        with_reason(cidr_expected,
                    "host bits are set past the /" + std::to_string(block.prefix) + " prefix"),
        "did you mean \"" + fixed.to_string() + "\"?");
  }
  return block;
}

Parsed<std::vector<Cidr>> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> blocks;
  std::size_t begin = 0;
  while (true) {
    std::size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(begin, end - begin);
    Parsed<Cidr> block = parse_cidr(item);
    if (!block.ok()) {
      return Parsed<std::vector<Cidr>>::failure(
          "block \"" + std::string(item) + "\": " + block.expected(), block.hint());
    }
    blocks.push_back(block.value());
    if (end == text.size()) break;
    begin = end + 1;
  }
  return blocks;
}

CidrSet::CidrSet(const std::vector<Cidr>& blocks) {
  std::vector<Range> v4;
  std::vector<Range> v6;
  for (const Cidr& block : blocks) {
    (block.family == AddressFamily::ipv4 ? v4 : v6).push_back(range_of(block));
  }
  v4_ = merged(std::move(v4));
  v6_ = merged(std::move(v6));
}

bool CidrSet::contains(const IpAddress& address) const {
  const IpAddress a = address.unmapped();
  return in_ranges(a.family == AddressFamily::ipv4 ? v4_ : v6_, to_u128(a.bytes, a.family));
}

std::string_view to_string(SourceVerdict verdict) {
  switch (verdict) {
    case SourceVerdict::allowed: return "allowed";
    case SourceVerdict::denied: return "denied";
    case SourceVerdict::not_allowed: return "not_allowed";
  }
  return "unknown";
}

SourceRules::SourceRules(const std::vector<Cidr>& allow, const std::vector<Cidr>& deny)
    : allow_(allow), deny_(deny) {}

SourceVerdict SourceRules::check(const IpAddress& client) const {
  if (deny_.contains(client)) return SourceVerdict::denied;
  if (!allow_.empty() && !allow_.contains(client)) return SourceVerdict::not_allowed;
  return SourceVerdict::allowed;
}

}  // namespace parkway::conf
