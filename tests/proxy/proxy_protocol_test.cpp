// The PROXY protocol parser and encoders (proxy/wire/proxy_protocol.h): every form the
// specification allows, every way to get it wrong, every split point, and the bytes real
// peers (HAProxy, nginx) write and take.
#include "proxy/wire/proxy_protocol.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/proxy/wire_test_data.h"

using namespace parkway::proxy::wire;
using parkway::net::SocketAddress;
using parkway::test::as_bytes;
using parkway::test::load_hex;
using parkway::test::operator""_b;

namespace {

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

ProxyParse parse(std::string_view s, ProxyMode mode = ProxyMode::any) {
  return parse_proxy_header(as_bytes(s), mode);
}

ProxyError error_of(std::string_view s, ProxyMode mode = ProxyMode::any) {
  const ProxyParse r = parse(s, mode);
  INFO("status " << static_cast<int>(r.status));
  REQUIRE(r.status == ProxyStatus::invalid);
  return r.error;
}

// A parsed address with every byte defined: SocketAddress::parse leaves an IPv6 address's
// sin6_scope_id undefined, and operator== compares it.
SocketAddress addr(std::string_view text) {
  auto a = SocketAddress::parse(text);
  REQUIRE(a.has_value());
  if (a->family() != AF_INET6) return *a;
  sockaddr_in6 sin6;
  std::memcpy(&sin6, a->sockaddr_ptr(), sizeof sin6);
  sin6.sin6_scope_id = 0;
  sin6.sin6_flowinfo = 0;
  return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

std::string be16(unsigned v) {
  return std::string{static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

// A v2 header: signature, version/command byte, family byte, length, block.
std::string v2(std::uint8_t ver_cmd, std::uint8_t family, const std::string& block) {
  return kSig + static_cast<char>(ver_cmd) + static_cast<char>(family) + be16(block.size()) + block;
}

std::string v4_block(const std::string& tlvs = "") {
  return std::string("\xc0\x00\x02\x01", 4) + std::string("\xc6\x33\x64\x02", 4) + be16(56324) +
         be16(443) + tlvs;
}

std::string tlv(std::uint8_t type, const std::string& value) {
  return static_cast<char>(type) + be16(value.size()) + value;
}

// Every proper prefix of a header needs more; the whole (and the whole with anything after
// it) answers `expected`.
void check_every_prefix(const std::string& bytes, const ProxyParse& expected, ProxyMode mode) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const ProxyParse r = parse(std::string_view(bytes).substr(0, n), mode);
    INFO("prefix of " << n << " bytes");
    if (r.status != ProxyStatus::need_more) {
      // Only allowed when the whole is invalid and the wrong byte has arrived.
      REQUIRE(expected.status == ProxyStatus::invalid);
      CHECK(r.status == ProxyStatus::invalid);
      CHECK(r.error == expected.error);
    }
  }
  const ProxyParse whole = parse(bytes, mode);
  CHECK(whole.status == expected.status);
  CHECK(whole.error == expected.error);
  CHECK(whole.consumed == expected.consumed);
  CHECK(whole.header == expected.header);
  const ProxyParse more = parse(bytes + "GET / HTTP/1.1\r\n", mode);
  CHECK(more.status == expected.status);
  CHECK(more.error == expected.error);
  CHECK(more.header == expected.header);
}

}  // namespace

TEST_CASE("v1 TCP4 and TCP6 headers give the client's addresses", "[proxy_protocol]") {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  const ProxyParse r = parse(line + "payload");
  REQUIRE(r.status == ProxyStatus::complete);
  CHECK(r.consumed == line.size());
  CHECK(r.header.version == ProxyVersion::v1);
  CHECK(r.header.command == ProxyCommand::proxy);
  CHECK(r.header.family == ProxyFamily::tcp4);
  CHECK(r.header.source == addr("192.0.2.1:56324"));
  CHECK(r.header.destination == addr("198.51.100.2:443"));
  CHECK(r.header.skipped_bytes == 0);
  CHECK(r.header.has_addresses());

  const ProxyParse six = parse("PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 0 65535\r\n");
  REQUIRE(six.status == ProxyStatus::complete);
  CHECK(six.header.family == ProxyFamily::tcp6);
  CHECK(six.header.source == addr("[2001:db8::1]:0"));
  CHECK(six.header.destination == addr("[2001:db8::2]:65535"));

  // An IPv4-mapped address stays IPv6 (TCP6 names the family), as inet_ntop writes it.
  const ProxyParse mapped = parse("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
  REQUIRE(mapped.status == ProxyStatus::complete);
  CHECK(mapped.header.source == addr("[::ffff:192.0.2.1]:1"));

  // The longest TCP6 line the specification allows.
  const std::string longest =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n";
  CHECK(longest.size() == 104);
  CHECK(parse(longest).status == ProxyStatus::complete);
  CHECK(parse("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n").status == ProxyStatus::complete);
}

TEST_CASE("v1 UNKNOWN is accepted and anything after it ignored", "[proxy_protocol]") {
  const ProxyParse r = parse("PROXY UNKNOWN\r\nrest");
  REQUIRE(r.status == ProxyStatus::complete);
  CHECK(r.consumed == 15);
  CHECK(r.header.family == ProxyFamily::unspec);
  CHECK_FALSE(r.header.has_addresses());
  CHECK(r.header.skipped_bytes == 0);

  const std::string with_fields = "PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n";
  const ProxyParse f = parse(with_fields);
  REQUIRE(f.status == ProxyStatus::complete);
  CHECK(f.consumed == with_fields.size());
  CHECK(f.header.skipped_bytes == with_fields.size() - 15);
  CHECK_FALSE(f.header.has_addresses());
  // Garbage fields too ("the receiver must ignore anything presented before the CRLF").
  CHECK(parse("PROXY UNKNOWN whatever goes  here\r\n").status == ProxyStatus::complete);

  // Exactly 107 bytes with the CRLF is the limit; one more is too long.
  const std::string at_limit = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
  REQUIRE(at_limit.size() == 107);
  CHECK(parse(at_limit).status == ProxyStatus::complete);
  const std::string over = "PROXY UNKNOWN " + std::string(107 - 15, 'x') + "\r\n";
  CHECK(error_of(over) == ProxyError::v1_too_long);
}

TEST_CASE("v1 is strict: each way to get a line wrong has its reason", "[proxy_protocol]") {
  struct Case {
    std::string line;
    ProxyError error;
  };
  const std::vector<Case> cases = {
      {"PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_fields},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", ProxyError::v1_bad_fields},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", ProxyError::v1_bad_fields},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", ProxyError::v1_bad_fields},
      {"PROXY TCP4\r\n", ProxyError::v1_bad_fields},
      {"PROXY TCP4 \r\n", ProxyError::v1_bad_fields},
      {"PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_protocol},
      {"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_protocol},
      {"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_protocol},
      {"PROXY UNKNOWNX\r\n", ProxyError::v1_bad_protocol},
      {"PROXY \r\n", ProxyError::v1_bad_protocol},
      {"PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0.2.1.5 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0..1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 0x7f.0.0.1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0.2.1 198.51.100.2. 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 ::1 198.51.100.2 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 192.0.2.1 ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 ::1 2001:db8::g 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 1::2::3 ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 [::1] ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP6 ::ffff:192.0.2.01 ::1 1 2\r\n", ProxyError::v1_bad_address},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 080\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 00 1\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 100000\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2a\r\n", ProxyError::v1_bad_port},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", ProxyError::v1_bad_line_end},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n", ProxyError::v1_bad_line_end},
      {"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX", ProxyError::v1_bad_line_end},
      {"PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n", ProxyError::v1_bad_character},
      {"PROXY TCP4 192.0.2.1\0 198.51.100.2 1 2\r\n"_b, ProxyError::v1_bad_character},
      {"PROXY UNKNOWN \xc3\xa9\r\n", ProxyError::v1_bad_character},
      {"PROXY " + std::string(200, 'A'), ProxyError::v1_too_long},
      {"PROXY UNKNOWN " + std::string(92, 'x') + "\r", ProxyError::v1_too_long},
      {"proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::not_proxy_protocol},
      {"PROXY-TCP4 192.0.2.1 198.51.100.2 1 2\r\n", ProxyError::not_proxy_protocol},
      {"GET / HTTP/1.1\r\n\r\n", ProxyError::not_proxy_protocol},
      {"\x16\x03\x01\x00\x10"_b, ProxyError::not_proxy_protocol},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    const ProxyParse r = parse(c.line);
    REQUIRE(r.status == ProxyStatus::invalid);
    CHECK(to_string(r.error) == to_string(c.error));
    ProxyParse expected;
    expected.status = ProxyStatus::invalid;
    expected.error = c.error;
    check_every_prefix(c.line, expected, ProxyMode::any);
  }
}

TEST_CASE("a v1 line is refused at its first wrong byte, not at the CRLF", "[proxy_protocol]") {
  CHECK(parse("P").status == ProxyStatus::need_more);
  CHECK(parse("PROX").status == ProxyStatus::need_more);
  CHECK(error_of("PROXX") == ProxyError::not_proxy_protocol);
  CHECK(error_of("X") == ProxyError::not_proxy_protocol);
  CHECK(parse("PROXY TCP4 1.2.3.4").status == ProxyStatus::need_more);
  CHECK(error_of("PROXY TCP4 1.2.3.4\x01") == ProxyError::v1_bad_character);
  CHECK(error_of("PROXY TCP4\n") == ProxyError::v1_bad_line_end);
  CHECK(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r").status == ProxyStatus::need_more);
  CHECK(parse("PROXY " + std::string(100, 'x')).status == ProxyStatus::need_more);
  CHECK(error_of("PROXY " + std::string(101, 'x')) == ProxyError::v1_too_long);
}

TEST_CASE("valid v1 headers need more at every split point", "[proxy_protocol]") {
  for (const std::string line :
       {"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n",
        "PROXY UNKNOWN\r\n", "PROXY UNKNOWN 1 2 3 4\r\n"}) {
    INFO(line);
    const ProxyParse expected = parse(line);
    REQUIRE(expected.status == ProxyStatus::complete);
    check_every_prefix(line, expected, ProxyMode::any);
    check_every_prefix(line, expected, ProxyMode::v1);
  }
}

TEST_CASE("v2 PROXY TCP4 and TCP6 give the client's addresses", "[proxy_protocol]") {
  const std::string h4 = v2(0x21, 0x11, v4_block());
  const ProxyParse r = parse(h4 + "data");
  REQUIRE(r.status == ProxyStatus::complete);
  CHECK(r.consumed == 28);
  CHECK(r.header.version == ProxyVersion::v2);
  CHECK(r.header.command == ProxyCommand::proxy);
  CHECK(r.header.family == ProxyFamily::tcp4);
  CHECK(r.header.source == addr("192.0.2.1:56324"));
  CHECK(r.header.destination == addr("198.51.100.2:443"));
  check_every_prefix(h4, r, ProxyMode::any);
  check_every_prefix(h4, r, ProxyMode::v2);

  std::uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8};
  src[15] = 1;
  std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8};
  dst[15] = 2;
  const std::string block6 = std::string(reinterpret_cast<char*>(src), 16) +
                             std::string(reinterpret_cast<char*>(dst), 16) + be16(1) + be16(2);
  const ProxyParse six = parse(v2(0x21, 0x21, block6));
  REQUIRE(six.status == ProxyStatus::complete);
  CHECK(six.consumed == 52);
  CHECK(six.header.family == ProxyFamily::tcp6);
  CHECK(six.header.source == addr("[2001:db8::1]:1"));
  CHECK(six.header.destination == addr("[2001:db8::2]:2"));
}

TEST_CASE("v2 LOCAL, UNSPEC, UDP and UNIX fall back to the transport addresses",
          "[proxy_protocol]") {
  // LOCAL: the block is skipped whatever it holds, the family byte included.
  for (const auto& [family, block] :
       std::vector<std::pair<std::uint8_t, std::string>>{{0x00, ""},
                                                         {0x00, "\x04\x00\x01z"_b},
                                                         {0x11, v4_block()},
                                                         {0x11, ""},
                                                         {0x21, "short"},
                                                         {0x32, std::string(5, 'u')}}) {
    const std::string h = v2(0x20, family, block);
    const ProxyParse r = parse(h);
    INFO("LOCAL family " << int(family) << " block " << block.size());
    REQUIRE(r.status == ProxyStatus::complete);
    CHECK(r.consumed == h.size());
    CHECK(r.header.command == ProxyCommand::local);
    CHECK(r.header.family == ProxyFamily::unspec);
    CHECK_FALSE(r.header.has_addresses());
    CHECK(r.header.skipped_bytes == block.size());
  }
  // PROXY with a family parkway does not route on: accepted, no addresses.
  for (const auto& [family, block] : std::vector<std::pair<std::uint8_t, std::string>>{
           {0x00, ""},
           {0x00, "anything"},
           {0x12, v4_block()},
           {0x22, std::string(36, '\1')},
           {0x31, std::string(216, '/')},
           {0x32, std::string(216, '/') + tlv(0x04, "")},
           {0x10, ""},
           {0x01, "x"}}) {
    const std::string h = v2(0x21, family, block);
    const ProxyParse r = parse(h);
    INFO("PROXY family " << int(family));
    REQUIRE(r.status == ProxyStatus::complete);
    CHECK(r.header.command == ProxyCommand::proxy);
    CHECK(r.header.family == ProxyFamily::unspec);
    CHECK_FALSE(r.header.has_addresses());
    CHECK(r.header.skipped_bytes == block.size());
  }
}

TEST_CASE("v2 TLVs are skipped safely, bounded, and a CRC32c is checked", "[proxy_protocol]") {
  const std::string tlvs = tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "") +
                           tlv(0x20, "\x01\0\0\0\0"_b + tlv(0x21, "TLSv1.3")) +
                           tlv(0xE0, std::string(300, 'c'));
  const std::string h = v2(0x21, 0x11, v4_block(tlvs));
  const ProxyParse r = parse(h);
  REQUIRE(r.status == ProxyStatus::complete);
  CHECK(r.consumed == h.size());
  CHECK(r.header.source == addr("192.0.2.1:56324"));
  CHECK(r.header.skipped_bytes == tlvs.size());
  check_every_prefix(h, r, ProxyMode::v2);

  // A TLV whose length runs past the header, or a TLV header cut short.
  CHECK(error_of(v2(0x21, 0x11, v4_block(tlv(0x01, "abc").substr(0, 5)))) ==
        ProxyError::v2_bad_tlv);
  CHECK(error_of(v2(0x21, 0x11, v4_block("\x01\x00"_b))) == ProxyError::v2_bad_tlv);
  CHECK(error_of(v2(0x21, 0x11, v4_block("\x01"))) == ProxyError::v2_bad_tlv);
  CHECK(error_of(v2(0x21, 0x11, v4_block(tlv(0x01, "ok") + "\x02\xff\xff"))) ==
        ProxyError::v2_bad_tlv);

  // CRC32c: the real one is in HAProxy's capture (below); a wrong one, a short one, two.
  CHECK(error_of(v2(0x21, 0x11, v4_block(tlv(0x03, std::string(4, '\0'))))) ==
        ProxyError::v2_bad_checksum);
  CHECK(error_of(v2(0x21, 0x11, v4_block(tlv(0x03, "abc")))) == ProxyError::v2_bad_checksum);
}

TEST_CASE("v2 is strict about version, command, family and lengths", "[proxy_protocol]") {
  CHECK(error_of(v2(0x11, 0x11, v4_block())) == ProxyError::v2_bad_version);
  CHECK(error_of(v2(0x31, 0x11, v4_block())) == ProxyError::v2_bad_version);
  CHECK(error_of(v2(0x22, 0x11, v4_block())) == ProxyError::v2_bad_command);
  CHECK(error_of(v2(0x2F, 0x11, v4_block())) == ProxyError::v2_bad_command);
  CHECK(error_of(v2(0x21, 0x41, v4_block())) == ProxyError::v2_bad_family);
  CHECK(error_of(v2(0x21, 0x13, v4_block())) == ProxyError::v2_bad_family);
  CHECK(error_of(v2(0x20, 0xF0, "")) == ProxyError::v2_bad_family);  // LOCAL too
  CHECK(error_of(v2(0x21, 0x11, v4_block().substr(0, 11))) == ProxyError::v2_short_addresses);
  CHECK(error_of(v2(0x21, 0x21, std::string(35, '\0'))) == ProxyError::v2_short_addresses);
  CHECK(error_of(v2(0x21, 0x31, std::string(215, '\0'))) == ProxyError::v2_short_addresses);

  // The bound: 4096 bytes in all is fine, one more is refused as soon as the length is in.
  const std::string fill = v4_block(tlv(0x04, std::string(4096 - 16 - 12 - 3, 'n')));
  const std::string at_limit = v2(0x21, 0x11, fill);
  REQUIRE(at_limit.size() == kMaxProxyV2Bytes);
  CHECK(parse(at_limit).status == ProxyStatus::complete);
  const std::string over = v2(0x21, 0x11, fill + "n");
  CHECK(error_of(over.substr(0, 16)) == ProxyError::v2_too_long);
  CHECK(error_of(kSig + "\x21\x11\xff\xff") == ProxyError::v2_too_long);

  // Early refusal: each byte is judged when it arrives.
  CHECK(parse(kSig.substr(0, 5)).status == ProxyStatus::need_more);
  CHECK(error_of(kSig.substr(0, 4) + "X") == ProxyError::not_proxy_protocol);
  CHECK(error_of(kSig + "\x10") == ProxyError::v2_bad_version);
  CHECK(error_of(kSig + "\x21\x50") == ProxyError::v2_bad_family);
  CHECK(parse(kSig + "\x21\x11\x00"_b).status == ProxyStatus::need_more);
  CHECK(error_of(kSig + "\x21\x11\x00\x05"_b) == ProxyError::v2_short_addresses);
  // A truncated header waits for the rest; the listener's deadline ends the wait.
  CHECK(parse(v2(0x21, 0x11, v4_block()).substr(0, 27)).status == ProxyStatus::need_more);
}

TEST_CASE("the mode decides which versions are accepted", "[proxy_protocol]") {
  const std::string one = "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n";
  const std::string two = v2(0x21, 0x11, v4_block());
  CHECK(parse(one, ProxyMode::v1).status == ProxyStatus::complete);
  CHECK(parse(two, ProxyMode::v2).status == ProxyStatus::complete);
  CHECK(parse(one, ProxyMode::any).status == ProxyStatus::complete);
  CHECK(parse(two, ProxyMode::any).status == ProxyStatus::complete);
  CHECK(error_of(one, ProxyMode::v2) == ProxyError::version_not_allowed);
  CHECK(error_of(two, ProxyMode::v1) == ProxyError::version_not_allowed);
  // Decided once the other version's start is certain, not before.
  CHECK(parse("PROXY", ProxyMode::v2).status == ProxyStatus::need_more);
  CHECK(error_of("PROXY ", ProxyMode::v2) == ProxyError::version_not_allowed);
  CHECK(parse(kSig.substr(0, 11), ProxyMode::v1).status == ProxyStatus::need_more);
  CHECK(error_of(kSig, ProxyMode::v1) == ProxyError::version_not_allowed);
  CHECK(error_of("GET /", ProxyMode::v1) == ProxyError::not_proxy_protocol);
  CHECK(error_of("GET /", ProxyMode::v2) == ProxyError::not_proxy_protocol);
  CHECK(parse("", ProxyMode::any).status == ProxyStatus::need_more);
}

TEST_CASE("encoders write v1 and v2 headers that parse back", "[proxy_protocol]") {
  const SocketAddress c4 = addr("192.0.2.10:51000");
  const SocketAddress d4 = addr("198.51.100.20:443");
  const SocketAddress c6 = addr("[2001:db8::10]:51001");
  const SocketAddress d6 = addr("[2001:db8::20]:8443");

  CHECK(encode_proxy_v1(c4, d4).text() == "PROXY TCP4 192.0.2.10 198.51.100.20 51000 443\r\n");
  CHECK(encode_proxy_v1(c6, d6).text() == "PROXY TCP6 2001:db8::10 2001:db8::20 51001 8443\r\n");
  // Mixed families: the IPv4 one is written IPv4-mapped, under TCP6.
  CHECK(encode_proxy_v1(c4, d6).text() ==
        "PROXY TCP6 ::ffff:192.0.2.10 2001:db8::20 51000 8443\r\n");
  CHECK(encode_proxy_v1(addr("0.0.0.0:0"), addr("255.255.255.255:65535")).text() ==
        "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n");
  // No IP address (a Unix-socket client): UNKNOWN / LOCAL.
  CHECK(encode_proxy_v1(SocketAddress(), d4).text() == "PROXY UNKNOWN\r\n");
  CHECK(encode_proxy_v1_unknown().text() == "PROXY UNKNOWN\r\n");
  CHECK(encode_proxy_v2(c4, SocketAddress()).text() == encode_proxy_v2_local().text());

  const EncodedProxyHeader v2_4 = encode_proxy_v2(c4, d4);
  CHECK(v2_4.size == 28);
  CHECK(v2_4.text().substr(0, 16) == kSig + "\x21\x11" + be16(12));
  const EncodedProxyHeader v2_6 = encode_proxy_v2(c6, d4);
  CHECK(v2_6.size == 52);
  CHECK(encode_proxy_v2_local().text() == kSig + "\x20\x00"_b + be16(0));

  for (const auto& [c, d] : std::vector<std::pair<SocketAddress, SocketAddress>>{
           {c4, d4}, {c6, d6}, {c4, d6}, {c6, d4}}) {
    for (const bool version2 : {false, true}) {
      const EncodedProxyHeader e = version2 ? encode_proxy_v2(c, d) : encode_proxy_v1(c, d);
      const ProxyParse r = parse_proxy_header(e.span(), ProxyMode::any);
      INFO(c.to_string() << " -> " << d.to_string() << " v" << (version2 ? 2 : 1));
      REQUIRE(r.status == ProxyStatus::complete);
      CHECK(r.consumed == e.size);
      const bool both_v4 = c.family() == AF_INET && d.family() == AF_INET;
      CHECK(r.header.family == (both_v4 ? ProxyFamily::tcp4 : ProxyFamily::tcp6));
      CHECK(unmap_ipv4(r.header.source) == c);
      CHECK(unmap_ipv4(r.header.destination) == d);
      // And re-encoding the parsed header gives the same bytes.
      CHECK(encode_proxy_header(r.header).text() == e.text());
    }
  }
  CHECK(unmap_ipv4(addr("[::ffff:10.0.0.1]:80")) == addr("10.0.0.1:80"));
  CHECK(unmap_ipv4(addr("[::1]:80")) == addr("[::1]:80"));
  CHECK(unmap_ipv4(addr("10.0.0.1:80")) == addr("10.0.0.1:80"));
}

TEST_CASE("parsed headers re-encode to the same header", "[proxy_protocol]") {
  for (const std::string& h :
       {std::string("PROXY UNKNOWN\r\n"), std::string("PROXY UNKNOWN x y\r\n"), v2(0x20, 0x00, ""),
        v2(0x20, 0x11, v4_block()), v2(0x20, 0x11, ""), v2(0x21, 0x00, ""), v2(0x21, 0x10, ""),
        v2(0x21, 0x12, v4_block()), v2(0x21, 0x11, v4_block(tlv(0x04, "pad")))}) {
    const ProxyParse r = parse(h);
    REQUIRE(r.status == ProxyStatus::complete);
    const EncodedProxyHeader e = encode_proxy_header(r.header);
    const ProxyParse again = parse_proxy_header(e.span(), ProxyMode::any);
    REQUIRE(again.status == ProxyStatus::complete);
    CHECK(again.consumed == e.size);
    CHECK(again.header.version == r.header.version);
    CHECK(again.header.command == r.header.command);
    CHECK(again.header.family == r.header.family);
    CHECK(again.header.source == r.header.source);
    CHECK(again.header.skipped_bytes == 0);
    // Byte-identical exactly when nothing was skipped and the family byte was canonical.
    const bool canonical = r.header.skipped_bytes == 0 &&
                           (r.header.version == ProxyVersion::v1 || r.header.v2_family == 0x00);
    CHECK((e.text() == h) == canonical);
    if (r.header.version == ProxyVersion::v2) CHECK(r.header.v2_family == std::uint8_t(h[13]));
  }
}

TEST_CASE("error names are unique and described", "[proxy_protocol]") {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(ProxyError::v2_bad_checksum); ++e) {
    const auto error = static_cast<ProxyError>(e);
    CHECK(names.insert(to_string(error)).second);
    CHECK(describe(error) != "unknown");
    CHECK(to_string(error).find(' ') == std::string_view::npos);
  }
  CHECK(names.size() == 17);
}

TEST_CASE("headers that HAProxy and nginx send parse to the client's addresses",
          "[proxy_protocol][interop]") {
  for (const char* name :
       {"proxy_haproxy_v1_tcp4.hex", "proxy_haproxy_v1_tcp6.hex", "proxy_haproxy_v2_tcp4.hex",
        "proxy_haproxy_v2_tcp6.hex", "proxy_haproxy_v2_tlvs.hex", "proxy_nginx_v1_tcp4.hex"}) {
    INFO(name);
    const auto file = load_hex(name);
    const ProxyParse r = parse_proxy_header(as_bytes(file.bytes), ProxyMode::any);
    REQUIRE(r.status == ProxyStatus::complete);
    CHECK(r.header.source == addr(file.meta.at("source")));
    CHECK(r.header.destination == addr(file.meta.at("destination")));
    // What follows the header is the client's first bytes, untouched.
    CHECK(file.bytes.substr(r.consumed) == file.meta.at("payload") + "\n");
    check_every_prefix(file.bytes.substr(0, r.consumed), r, ProxyMode::any);
  }

  // HAProxy's TLVs: a UNIQUE_ID and a CRC32c that matched; any flipped bit breaks it.
  const auto tlvs = load_hex("proxy_haproxy_v2_tlvs.hex");
  const ProxyParse r = parse_proxy_header(as_bytes(tlvs.bytes), ProxyMode::v2);
  REQUIRE(r.status == ProxyStatus::complete);
  CHECK(r.header.skipped_bytes > 7);
  std::string damaged = tlvs.bytes;
  damaged[r.consumed - 1] ^= 1;  // the last byte of the unique id or of the checksum
  CHECK(error_of(damaged, ProxyMode::v2) == ProxyError::v2_bad_checksum);

  // Health checks: v2 sends LOCAL, v1 the check connection's own addresses.
  const ProxyParse local =
      parse_proxy_header(as_bytes(load_hex("proxy_haproxy_v2_check.hex").bytes), ProxyMode::any);
  REQUIRE(local.status == ProxyStatus::complete);
  CHECK(local.header.command == ProxyCommand::local);
  const ProxyParse check1 =
      parse_proxy_header(as_bytes(load_hex("proxy_haproxy_v1_check.hex").bytes), ProxyMode::any);
  REQUIRE(check1.status == ProxyStatus::complete);
  CHECK(check1.header.family == ProxyFamily::tcp4);
}

TEST_CASE("HAProxy and nginx take the headers parkway writes", "[proxy_protocol][interop]") {
  struct Written {
    const char* file;
    EncodedProxyHeader bytes;
  };
  const SocketAddress c4 = addr("192.0.2.10:51000");
  const SocketAddress d4 = addr("198.51.100.20:443");
  const SocketAddress c6 = addr("[2001:db8::10]:51001");
  const SocketAddress d6 = addr("[2001:db8::20]:8443");
  const std::vector<Written> written = {
      {"parkway_v1_tcp4.hex", encode_proxy_v1(c4, d4)},
      {"parkway_v1_tcp6.hex", encode_proxy_v1(c6, d6)},
      {"parkway_v1_unknown.hex", encode_proxy_v1_unknown()},
      {"parkway_v2_tcp4.hex", encode_proxy_v2(c4, d4)},
      {"parkway_v2_tcp6.hex", encode_proxy_v2(c6, d6)},
      {"parkway_v2_local.hex", encode_proxy_v2_local()},
  };
  // What the receivers answered (capture.py sent them these files' bytes).
  std::ifstream in(parkway::test::data_path("interop_receivers.txt"));
  std::vector<std::string> answers;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') answers.push_back(line);
  }
  REQUIRE(answers.size() == 2 * written.size());

  for (const Written& w : written) {
    INFO(w.file);
    // The encoders still write the bytes the receivers were sent.
    CHECK(load_hex(w.file).bytes == std::string(w.bytes.text()));
    const ProxyParse r = parse_proxy_header(w.bytes.span(), ProxyMode::any);
    REQUIRE(r.status == ProxyStatus::complete);
    for (const std::string receiver : {"haproxy", "nginx"}) {
      INFO(receiver);
      std::string answer;
      for (const std::string& line : answers) {
        if (line.rfind(receiver + " " + w.file + " ", 0) == 0) {
          answer = line.substr(receiver.size() + std::string(w.file).size() + 2);
        }
      }
      REQUIRE_FALSE(answer.empty());
      if (r.header.has_addresses()) {
        const std::string expected =
            r.header.source.ip_string() + " " + std::to_string(r.header.source.port()) + " " +
            r.header.destination.ip_string() + " " + std::to_string(r.header.destination.port());
        CHECK(answer.rfind(expected, 0) == 0);
      } else {
        // UNKNOWN and LOCAL: the receiver used the connection's own address.
        CHECK(answer.rfind("127.0.0.1", 0) == 0);
      }
    }
  }
}
