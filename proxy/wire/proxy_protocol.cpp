// The PROXY protocol parser and encoders; the accepted forms are in proxy_protocol.h.
//
// Every check is made in the order of the bytes it looks at, and each looks only at bytes
// that have arrived, so that the first wrong byte decides the answer whatever comes after
// it and however the bytes were split: that is what makes the parser incremental without
// keeping state between calls.
#include "proxy/wire/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "scheduler/check.h"

namespace parkway::proxy::wire {
namespace {

constexpr std::uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                           0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::uint8_t kTlvCrc32c = 0x03;

// CRC32c (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 appendix B computes it.
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kCrc32cTable = make_crc32c_table();

// The CRC32c of p[0..n) with the four bytes at `zeroed` read as zeros.
std::uint32_t crc32c_zeroing(const std::uint8_t* p, std::size_t n, std::size_t zeroed) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t b = (i >= zeroed && i < zeroed + 4) ? 0 : p[i];
    crc = kCrc32cTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// An IPv6 SocketAddress with every byte defined. Not SocketAddress::ipv6: it leaves
// sin6_scope_id as it found it (its storage union is zeroed only as wide as sockaddr), and
// SocketAddress compares all 28 bytes, so two equal addresses could compare unequal.
net::SocketAddress make_ipv6(const std::uint8_t* bytes, std::uint16_t port) {
  sockaddr_in6 sin6;
  std::memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(sin6.sin6_addr.s6_addr, bytes, 16);
  return net::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

ProxyParse invalid(ProxyError error) {
  ProxyParse r;
  r.status = ProxyStatus::invalid;
  r.error = error;
  return r;
}

ProxyParse need_more() { return {}; }

bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// ---- v1 ---------------------------------------------------------------------------------

// A decimal number without sign or leading zeros ("0" itself is fine), 1..digits long and
// at most `max`.
bool strict_decimal(std::string_view s, std::size_t digits, std::uint32_t max, std::uint32_t* out) {
  if (s.empty() || s.size() > digits || (s.size() > 1 && s[0] == '0')) return false;
  std::uint32_t v = 0;
  for (const char c : s) {
    if (!is_digit(static_cast<std::uint8_t>(c))) return false;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool parse_v4_text(std::string_view s, std::uint8_t out[4]) {
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = s.find('.');
    if (i == 3) {
      if (dot != std::string_view::npos) return false;
      dot = s.size();
    } else if (dot == std::string_view::npos) {
      return false;
    }
    std::uint32_t octet = 0;
    if (!strict_decimal(s.substr(0, dot), 3, 255, &octet)) return false;
    out[i] = static_cast<std::uint8_t>(octet);
    s.remove_prefix(std::min(dot + 1, s.size()));
  }
  return true;
}

bool parse_v6_text(std::string_view s, std::uint8_t out[16]) {
  char buf[46];
  if (s.empty() || s.size() >= sizeof buf) return false;
  for (const char c : s) {
    const bool ok = is_digit(static_cast<std::uint8_t>(c)) || (c >= 'a' && c <= 'f') ||
                    (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    if (!ok) return false;
  }
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1;
}

// Splits `line` at single spaces into exactly `n` non-empty fields.
bool split_fields(std::string_view line, std::string_view* fields, int n) {
  for (int i = 0; i < n; ++i) {
    const std::size_t space = line.find(' ');
    if (i == n - 1) {
      if (space != std::string_view::npos) return false;
      fields[i] = line;
    } else {
      if (space == std::string_view::npos) return false;
      fields[i] = line.substr(0, space);
      line.remove_prefix(space + 1);
    }
    if (fields[i].empty()) return false;
  }
  return true;
}

ProxyParse parse_v1(const std::uint8_t* p, std::size_t n) {
  // The "PROXY " prefix has been matched by the caller. Find the CRLF, refusing bad bytes
  // as they arrive.
  std::size_t cr = 0;
  bool found = false;
  const std::size_t limit = std::min(n, kMaxProxyV1Bytes);
  for (std::size_t i = kV1Prefix.size(); i < limit; ++i) {
    const std::uint8_t c = p[i];
    if (c == '\r') {
      // The LF would be byte kMaxProxyV1Bytes + 1.
      if (i + 1 >= kMaxProxyV1Bytes) return invalid(ProxyError::v1_too_long);
      if (i + 1 >= n) return need_more();
      if (p[i + 1] != '\n') return invalid(ProxyError::v1_bad_line_end);
      cr = i;
      found = true;
      break;
    }
    if (c == '\n') return invalid(ProxyError::v1_bad_line_end);
    if (c < 0x20 || c > 0x7E) return invalid(ProxyError::v1_bad_character);
  }
  if (!found) {
    return n >= kMaxProxyV1Bytes ? invalid(ProxyError::v1_too_long) : need_more();
  }

  std::string_view line(reinterpret_cast<const char*>(p) + kV1Prefix.size(), cr - kV1Prefix.size());
  ProxyParse r;
  r.status = ProxyStatus::complete;
  r.consumed = cr + 2;
  r.header.version = ProxyVersion::v1;
  r.header.command = ProxyCommand::proxy;

  const std::size_t space = line.find(' ');
  const std::string_view protocol = line.substr(0, space);
  if (protocol == "UNKNOWN") {
    // "the receiver must ignore anything presented before the CRLF"
    r.header.family = ProxyFamily::unspec;
    r.header.skipped_bytes = static_cast<std::uint16_t>(line.size() - protocol.size());
    return r;
  }
  const bool v4 = protocol == "TCP4";
  if (!v4 && protocol != "TCP6") return invalid(ProxyError::v1_bad_protocol);
  if (space == std::string_view::npos) return invalid(ProxyError::v1_bad_fields);

  std::string_view f[4];
  if (!split_fields(line.substr(space + 1), f, 4)) return invalid(ProxyError::v1_bad_fields);
  std::uint8_t src[16];
  std::uint8_t dst[16];
  if (v4 ? !parse_v4_text(f[0], src) : !parse_v6_text(f[0], src)) {
    return invalid(ProxyError::v1_bad_address);
  }
  if (v4 ? !parse_v4_text(f[1], dst) : !parse_v6_text(f[1], dst)) {
    return invalid(ProxyError::v1_bad_address);
  }
  std::uint32_t sport = 0;
  std::uint32_t dport = 0;
  if (!strict_decimal(f[2], 5, 65535, &sport) || !strict_decimal(f[3], 5, 65535, &dport)) {
    return invalid(ProxyError::v1_bad_port);
  }
  r.header.family = v4 ? ProxyFamily::tcp4 : ProxyFamily::tcp6;
  const auto sp = static_cast<std::uint16_t>(sport);
  const auto dp = static_cast<std::uint16_t>(dport);
  r.header.source = v4 ? net::SocketAddress::ipv4(src, sp) : make_ipv6(src, sp);
  r.header.destination = v4 ? net::SocketAddress::ipv4(dst, dp) : make_ipv6(dst, dp);
  return r;
}

// ---- v2 ---------------------------------------------------------------------------------

// The address block a family byte implies, 0 when it implies none parkway knows.
std::size_t v2_address_bytes(std::uint8_t family) {
  switch (family) {
    case 0x11:
    case 0x12: return 12;
    case 0x21:
    case 0x22: return 36;
    case 0x31:
    case 0x32: return 216;
    default: return 0;
  }
}

// Walks the TLVs in p[begin..end): each fits, and a CRC32c TLV matches the header p[0..end).
ProxyError check_tlvs(const std::uint8_t* p, std::size_t begin, std::size_t end) {
  bool crc_seen = false;
  std::size_t i = begin;
  while (i < end) {
    if (end - i < 3) return ProxyError::v2_bad_tlv;
    const std::uint8_t type = p[i];
    const std::size_t length = be16(p + i + 1);
    if (length > end - i - 3) return ProxyError::v2_bad_tlv;
    if (type == kTlvCrc32c) {
      if (length != 4 || crc_seen) return ProxyError::v2_bad_checksum;
      crc_seen = true;
      if (be32(p + i + 3) != crc32c_zeroing(p, end, i + 3)) return ProxyError::v2_bad_checksum;
    }
    i += 3 + length;
  }
  return ProxyError::none;
}

ProxyParse parse_v2(const std::uint8_t* p, std::size_t n) {
  // The signature has been matched by the caller.
  if (n < 13) return need_more();
  if ((p[12] >> 4) != 2) return invalid(ProxyError::v2_bad_version);
  const std::uint8_t command = p[12] & 0x0F;
  if (command > 1) return invalid(ProxyError::v2_bad_command);
  if (n < 14) return need_more();
  const std::uint8_t family = p[13];
  if ((family >> 4) > 3 || (family & 0x0F) > 2) return invalid(ProxyError::v2_bad_family);
  if (n < kProxyV2HeaderBytes) return need_more();
  const std::size_t length = be16(p + 14);
  const std::size_t total = kProxyV2HeaderBytes + length;
  if (total > kMaxProxyV2Bytes) return invalid(ProxyError::v2_too_long);
  const bool proxy = command == 1;
  const std::size_t address_bytes = v2_address_bytes(family);
  if (proxy && length < address_bytes) return invalid(ProxyError::v2_short_addresses);
  if (n < total) return need_more();

  ProxyParse r;
  r.status = ProxyStatus::complete;
  r.consumed = total;
  r.header.version = ProxyVersion::v2;
  r.header.command = proxy ? ProxyCommand::proxy : ProxyCommand::local;
  r.header.family = ProxyFamily::unspec;
  r.header.skipped_bytes = static_cast<std::uint16_t>(length);
  r.header.v2_family = family;
  if (!proxy) return r;  // LOCAL: "discard the protocol block including the family"

  if (address_bytes > 0) {
    const ProxyError tlv = check_tlvs(p, kProxyV2HeaderBytes + address_bytes, total);
    if (tlv != ProxyError::none) return invalid(tlv);
  }
  const std::uint8_t* a = p + kProxyV2HeaderBytes;
  if (family == 0x11) {
    r.header.family = ProxyFamily::tcp4;
    r.header.source = net::SocketAddress::ipv4(a, be16(a + 8));
    r.header.destination = net::SocketAddress::ipv4(a + 4, be16(a + 10));
    r.header.skipped_bytes = static_cast<std::uint16_t>(length - address_bytes);
  } else if (family == 0x21) {
    r.header.family = ProxyFamily::tcp6;
    r.header.source = make_ipv6(a, be16(a + 32));
    r.header.destination = make_ipv6(a + 16, be16(a + 34));
    r.header.skipped_bytes = static_cast<std::uint16_t>(length - address_bytes);
  }
  return r;
}

// ---- encoding ---------------------------------------------------------------------------

// Copies, not casts: sockaddr is less aligned than sockaddr_in and sockaddr_in6.
// Preconditions: a.family() is AF_INET (v4_of) or AF_INET6 (v6_of).
sockaddr_in v4_of(const net::SocketAddress& a) {
  sockaddr_in sin;
  std::memcpy(&sin, a.sockaddr_ptr(), sizeof sin);
  return sin;
}
sockaddr_in6 v6_of(const net::SocketAddress& a) {
  sockaddr_in6 sin6;
  std::memcpy(&sin6, a.sockaddr_ptr(), sizeof sin6);
  return sin6;
}

bool is_ip(const net::SocketAddress& a) { return a.family() == AF_INET || a.family() == AF_INET6; }

// The 16 bytes of an address as IPv6 (an IPv4 one mapped).
void v6_bytes(const net::SocketAddress& a, std::uint8_t out[16]) {
  if (a.family() == AF_INET6) {
    const sockaddr_in6 sin6 = v6_of(a);
    std::memcpy(out, sin6.sin6_addr.s6_addr, 16);
    return;
  }
  std::memset(out, 0, 10);
  out[10] = 0xFF;
  out[11] = 0xFF;
  const sockaddr_in sin = v4_of(a);
  std::memcpy(out + 12, &sin.sin_addr.s_addr, 4);
}

class Writer {
 public:
  explicit Writer(EncodedProxyHeader* out) : out_(out) {}
  void bytes(const void* p, std::size_t n) {
    PW_CHECK(n <= out_->bytes.size() - out_->size, "proxy_protocol: encoded header overflows");
    std::memcpy(out_->bytes.data() + out_->size, p, n);
    out_->size += n;
  }
  void text(std::string_view s) { bytes(s.data(), s.size()); }
  void u8(std::uint8_t v) { bytes(&v, 1); }
  void u16(std::uint16_t v) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    bytes(b, 2);
  }
  void decimal(std::uint16_t v) {
    char buf[5];
    std::size_t i = sizeof buf;
    do {
      buf[--i] = static_cast<char>('0' + v % 10);
      v = static_cast<std::uint16_t>(v / 10);
    } while (v != 0);
    bytes(buf + i, sizeof buf - i);
  }

 private:
  EncodedProxyHeader* out_;
};

void write_ip_text(Writer& w, int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr, buf, sizeof buf);
  w.text(buf);
}

}  // namespace

std::string_view to_string(ProxyError error) {
  switch (error) {
    case ProxyError::none: return "none";
#define PARKWAY_PROXY_ERROR_NAME(name, help) \
  case ProxyError::name: return #name;
      PARKWAY_PROXY_ERRORS(PARKWAY_PROXY_ERROR_NAME)
#undef PARKWAY_PROXY_ERROR_NAME
  }
  return "unknown";
}

std::string_view describe(ProxyError error) {
  switch (error) {
    case ProxyError::none: return "no error";
#define PARKWAY_PROXY_ERROR_HELP(name, help) \
  case ProxyError::name: return help;
      PARKWAY_PROXY_ERRORS(PARKWAY_PROXY_ERROR_HELP)
#undef PARKWAY_PROXY_ERROR_HELP
  }
  return "unknown";
}

ProxyParse parse_proxy_header(std::span<const std::byte> data, ProxyMode mode) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t n = data.size();
  if (n == 0) return need_more();
  // Which of the two starts the bytes so far can still be.
  const std::size_t v1_seen = std::min(n, kV1Prefix.size());
  const std::size_t v2_seen = std::min(n, sizeof kV2Signature);
  const bool maybe_v1 = std::memcmp(p, kV1Prefix.data(), v1_seen) == 0;
  const bool maybe_v2 = std::memcmp(p, kV2Signature, v2_seen) == 0;
  if (!maybe_v1 && !maybe_v2) return invalid(ProxyError::not_proxy_protocol);

  // The first byte tells the two apart ('P' or '\r'), so at most one is still possible.
  if (maybe_v1) {
    if (mode == ProxyMode::v2) {
      return v1_seen < kV1Prefix.size() ? need_more() : invalid(ProxyError::version_not_allowed);
    }
    if (v1_seen < kV1Prefix.size()) return need_more();
    return parse_v1(p, n);
  }
  if (mode == ProxyMode::v1) {
    return v2_seen < sizeof kV2Signature ? need_more() : invalid(ProxyError::version_not_allowed);
  }
  if (v2_seen < sizeof kV2Signature) return need_more();
  return parse_v2(p, n);
}

EncodedProxyHeader encode_proxy_v1(const net::SocketAddress& client,
                                   const net::SocketAddress& destination) {
  if (!is_ip(client) || !is_ip(destination)) return encode_proxy_v1_unknown();
  EncodedProxyHeader out;
  Writer w(&out);
  if (client.family() == AF_INET && destination.family() == AF_INET) {
    const sockaddr_in src = v4_of(client);
    const sockaddr_in dst = v4_of(destination);
    w.text("PROXY TCP4 ");
    write_ip_text(w, AF_INET, &src.sin_addr);
    w.u8(' ');
    write_ip_text(w, AF_INET, &dst.sin_addr);
  } else {
    std::uint8_t src[16];
    std::uint8_t dst[16];
    v6_bytes(client, src);
    v6_bytes(destination, dst);
    w.text("PROXY TCP6 ");
    write_ip_text(w, AF_INET6, src);
    w.u8(' ');
    write_ip_text(w, AF_INET6, dst);
  }
  w.u8(' ');
  w.decimal(client.port());
  w.u8(' ');
  w.decimal(destination.port());
  w.text("\r\n");
  return out;
}

EncodedProxyHeader encode_proxy_v1_unknown() {
  EncodedProxyHeader out;
  Writer(&out).text("PROXY UNKNOWN\r\n");
  return out;
}

EncodedProxyHeader encode_proxy_v2(const net::SocketAddress& client,
                                   const net::SocketAddress& destination) {
  if (!is_ip(client) || !is_ip(destination)) return encode_proxy_v2_local();
  EncodedProxyHeader out;
  Writer w(&out);
  w.bytes(kV2Signature, sizeof kV2Signature);
  w.u8(0x21);  // version 2, PROXY
  if (client.family() == AF_INET && destination.family() == AF_INET) {
    w.u8(0x11);  // TCP over IPv4
    w.u16(12);
    const sockaddr_in src = v4_of(client);
    const sockaddr_in dst = v4_of(destination);
    w.bytes(&src.sin_addr.s_addr, 4);
    w.bytes(&dst.sin_addr.s_addr, 4);
  } else {
    std::uint8_t src[16];
    std::uint8_t dst[16];
    v6_bytes(client, src);
    v6_bytes(destination, dst);
    w.u8(0x21);  // TCP over IPv6
    w.u16(36);
    w.bytes(src, 16);
    w.bytes(dst, 16);
  }
  w.u16(client.port());
  w.u16(destination.port());
  return out;
}

EncodedProxyHeader encode_proxy_v2_local() {
  EncodedProxyHeader out;
  Writer w(&out);
  w.bytes(kV2Signature, sizeof kV2Signature);
  w.u8(0x20);  // version 2, LOCAL
  w.u8(0x00);  // UNSPEC
  w.u16(0);
  return out;
}

EncodedProxyHeader encode_proxy_header(const ProxyHeader& header) {
  if (header.version == ProxyVersion::v1) {
    return header.has_addresses() ? encode_proxy_v1(header.source, header.destination)
                                  : encode_proxy_v1_unknown();
  }
  if (header.command == ProxyCommand::local) return encode_proxy_v2_local();
  if (header.has_addresses()) return encode_proxy_v2(header.source, header.destination);
  EncodedProxyHeader out;
  Writer w(&out);
  w.bytes(kV2Signature, sizeof kV2Signature);
  w.u8(0x21);  // version 2, PROXY
  w.u8(0x00);  // UNSPEC: "use the real connection's addresses"
  w.u16(0);
  return out;
}

net::SocketAddress unmap_ipv4(const net::SocketAddress& address) {
  if (address.family() != AF_INET6) return address;
  const sockaddr_in6 sin6 = v6_of(address);
  const std::uint8_t* b = sin6.sin6_addr.s6_addr;
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(b, kMappedPrefix, 12) != 0) return address;
  return net::SocketAddress::ipv4(b + 12, address.port());
}

}  // namespace parkway::proxy::wire
