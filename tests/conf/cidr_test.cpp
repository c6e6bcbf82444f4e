// CIDR blocks, sets and source rules: conf/cidr.h.
#include "conf/cidr.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace parkway::conf;

namespace {

Cidr cidr(std::string_view text) {
  const auto r = parse_cidr(text);
  INFO(text << ": " << (r.ok() ? "" : r.expected()));
  REQUIRE(r.ok());
  return r.value();
}

Parsed<Cidr> refused(std::string_view text) {
  auto r = parse_cidr(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.expected().rfind("expected an IP address or CIDR block", 0) == 0);
  return r;
}

IpAddress ip(std::string_view text) {
  const auto r = IpAddress::parse(text);
  INFO(text);
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("CIDR blocks parse and print canonically", "[conf][cidr]") {
  const Cidr ten = cidr("10.0.0.0/8");
  CHECK(ten.family == AddressFamily::ipv4);
  CHECK(ten.prefix == 8);
  CHECK(ten.bytes[0] == 10);
  CHECK(ten.to_string() == "10.0.0.0/8");
  CHECK(cidr("192.168.1.7").to_string() == "192.168.1.7/32");
  CHECK(cidr("192.168.1.7").prefix == 32);
  CHECK(cidr("0.0.0.0/0").to_string() == "0.0.0.0/0");
  CHECK(cidr("::1").to_string() == "::1/128");
  CHECK(cidr("::1/128") == cidr("::1"));
  CHECK(cidr("2001:DB8:0::/32").to_string() == "2001:db8::/32");
  CHECK(cidr("::/0").to_string() == "::/0");
  CHECK(cidr("fe80::/10").prefix == 10);
  CHECK(cidr("2001:db8::/127").to_string() == "2001:db8::/127");
  CHECK(cidr("255.255.255.255/32").to_string() == "255.255.255.255/32");
  // A deprecated IPv4-compatible address is plain IPv6.
  CHECK(cidr("::10.0.0.1").family == AddressFamily::ipv6);
}

TEST_CASE("CIDR errors say what was expected, and why", "[conf][cidr]") {
  const auto host_bits = refused("10.1.2.3/8");
  CHECK(host_bits.expected().find("host bits are set past the /8 prefix") != std::string::npos);
  CHECK(host_bits.hint() == "did you mean \"10.0.0.0/8\"?");
  CHECK(refused("2001:db8::1/32").hint() == "did you mean \"2001:db8::/32\"?");
  CHECK(refused("192.168.1.1/31").hint() == "did you mean \"192.168.1.0/31\"?");

  const auto mapped = refused("::ffff:10.0.0.0/104");
  CHECK(mapped.expected().find("IPv4-mapped") != std::string::npos);
  CHECK(mapped.hint() == "did you mean \"10.0.0.0/8\"?");
  CHECK(refused("::ffff:192.0.2.1").hint() == "did you mean \"192.0.2.1/32\"?");
  CHECK(refused("::ffff:0:0/96").hint() == "did you mean \"0.0.0.0/0\"?");
  CHECK(refused("::ffff:10.1.2.3/104").hint() == "did you mean \"10.0.0.0/8\"?");
  // Below /96 a block is not IPv4-mapped, only overlapping: fine.
  CHECK(cidr("::/64").prefix == 64);

  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/",
                          "10.0.0.0/8/8", "10.0.0.0/x", "::/129", "::/0128", "10.0.0.0/ 8"}) {
    CHECK(refused(bad).expected().find("prefix length") != std::string::npos);
  }
  CHECK(refused("10.0.0.0/33").expected().find("0..32") != std::string::npos);
  CHECK(refused("::/129").expected().find("0..128") != std::string::npos);
  for (const char* bad :
       {"010.0.0.0/8", "10.0.0/8", "10.0.0.0.0", "256.0.0.0", "10.0.0.", "a.b.c.d", "localhost",
        "10.0.0.1 ", " 10.0.0.1", "1e1.0.0.0", "10.0.0.0 /8"}) {
    CHECK(refused(bad).expected().find("not a valid IPv4 address") != std::string::npos);
  }
  for (const char* bad :
       {"2001:db8::g/32", "1::2::3", "fe80::1%eth0", "::1 ", "1:2:3:4:5:6:7:8:9"}) {
    CHECK(refused(bad).expected().find("not a valid IPv6 address") != std::string::npos);
  }
  CHECK(refused("[::1]/128").expected().find("no brackets") != std::string::npos);
  CHECK(refused("").expected().find("nothing was given") != std::string::npos);
  CHECK(refused("/8").expected().find("the address is missing") != std::string::npos);
}

TEST_CASE("contains: IPv4 rules match IPv4 and IPv4-mapped clients", "[conf][cidr]") {
  const Cidr ten = cidr("10.0.0.0/8");
  CHECK(ten.contains(ip("10.0.0.0")));
  CHECK(ten.contains(ip("10.255.255.255")));
  CHECK_FALSE(ten.contains(ip("11.0.0.0")));
  CHECK_FALSE(ten.contains(ip("9.255.255.255")));
  CHECK(ten.contains(ip("::ffff:10.1.2.3")));
  CHECK_FALSE(ten.contains(ip("::ffff:11.1.2.3")));
  CHECK_FALSE(ten.contains(ip("::10.1.2.3")));  // IPv4-compatible is not mapped
  CHECK(cidr("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
  CHECK_FALSE(cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
  CHECK_FALSE(cidr("::/0").contains(ip("1.2.3.4")));
  CHECK_FALSE(cidr("::/0").contains(ip("::ffff:1.2.3.4")));  // an IPv4 client, in IPv4 form
  CHECK(cidr("::/0").contains(ip("2001:db8::1")));
  // An IPv6 block that spans the mapped range still holds no IPv4 client.
  CHECK_FALSE(cidr("::/80").contains(ip("::ffff:ffff:ffff")));
  CHECK(cidr("::/80").contains(ip("::fffe:ffff:ffff")));
  CHECK_FALSE(CidrSet({cidr("::/80")}).contains(ip("::ffff:1.2.3.4")));
  CHECK(cidr("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
  CHECK_FALSE(cidr("2001:db8::/32").contains(ip("2001:db9::")));
  CHECK(cidr("192.168.1.7").contains(ip("192.168.1.7")));
  CHECK_FALSE(cidr("192.168.1.7").contains(ip("192.168.1.6")));
  CHECK(cidr("10.0.0.0/9").contains(ip("10.127.0.1")));
  CHECK_FALSE(cidr("10.0.0.0/9").contains(ip("10.128.0.1")));
  CHECK(ip("::ffff:10.1.2.3").unmapped() == ip("10.1.2.3"));
  CHECK(ip("::ffff:10.1.2.3").to_string() == "::ffff:10.1.2.3");
  CHECK_FALSE(IpAddress::parse("10.0.0.1/8").ok());
  CHECK_FALSE(IpAddress::parse("[::1]").ok());
}

TEST_CASE("lists parse block by block", "[conf][cidr]") {
  const auto list = parse_cidr_list("10.0.0.0/8,192.168.0.0/16,::1");
  REQUIRE(list.ok());
  REQUIRE(list.value().size() == 3);
  CHECK(list.value()[2].to_string() == "::1/128");
  const auto bad = parse_cidr_list("10.0.0.0/8,10.1.0.1/16");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.expected().rfind("block \"10.1.0.1/16\": expected", 0) == 0);
  CHECK(bad.hint() == "did you mean \"10.1.0.0/16\"?");
  CHECK_FALSE(parse_cidr_list("").ok());
  CHECK_FALSE(parse_cidr_list("10.0.0.0/8,").ok());
  CHECK_FALSE(parse_cidr_list("10.0.0.0/8, 10.0.0.1").ok());
}

TEST_CASE("CidrSet merges blocks and agrees with testing each block", "[conf][cidr]") {
  const CidrSet set({cidr("10.0.0.0/8"), cidr("10.1.0.0/16"), cidr("10.0.0.0/9"),
                     cidr("192.168.0.0/24"), cidr("192.168.1.0/24"), cidr("::1"),
                     cidr("2001:db8::/32")});
  CHECK(set.range_count() == 5);  // 10/8 swallows its sub-blocks; adjacent ones stay apart
  CHECK(set.contains(ip("10.200.0.1")));
  CHECK(set.contains(ip("192.168.1.255")));
  CHECK_FALSE(set.contains(ip("192.168.2.0")));
  CHECK(set.contains(ip("::1")));
  CHECK(set.contains(ip("::ffff:10.0.0.1")));
  CHECK_FALSE(set.contains(ip("::2")));
  CHECK_FALSE(CidrSet().contains(ip("10.0.0.1")));
  CHECK(CidrSet({cidr("0.0.0.0/0")}).contains(ip("255.255.255.255")));
  CHECK(CidrSet({cidr("::/0")}).contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));

  // Random blocks and addresses near them: the set says what the blocks say.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Cidr> blocks;
    const bool v6 = round % 2 == 1;
    for (int i = 0; i < 1 + round % 17; ++i) {
      Cidr c;
      c.family = v6 ? AddressFamily::ipv6 : AddressFamily::ipv4;
      for (int b = 0; b < (v6 ? 16 : 4); ++b) c.bytes[b] = static_cast<std::uint8_t>(rng() & 0x3);
      c.prefix = static_cast<int>(rng() % (v6 ? 129 : 33));
      for (int bit = c.prefix; bit < (v6 ? 128 : 32); ++bit) {  // clear the host bits
        c.bytes[bit / 8] = static_cast<std::uint8_t>(c.bytes[bit / 8] & ~(0x80 >> (bit % 8)));
      }
      blocks.push_back(cidr(c.to_string()));
    }
    const CidrSet s(blocks);
    for (int probe = 0; probe < 50; ++probe) {
      IpAddress a;
      a.family = v6 ? AddressFamily::ipv6 : AddressFamily::ipv4;
      for (int b = 0; b < (v6 ? 16 : 4); ++b) a.bytes[b] = static_cast<std::uint8_t>(rng() & 0x3);
      bool any = false;
      for (const Cidr& c : blocks) any = any || c.contains(a);
      INFO(a.to_string());
      REQUIRE(s.contains(a) == any);
    }
  }
}

TEST_CASE("source rules: deny wins, an empty allow list allows all", "[conf][cidr]") {
  const SourceRules none;
  CHECK(none.check(ip("203.0.113.5")) == SourceVerdict::allowed);

  const SourceRules deny_only({}, {cidr("203.0.113.0/24")});
  CHECK(deny_only.check(ip("203.0.113.5")) == SourceVerdict::denied);
  CHECK(deny_only.check(ip("::ffff:203.0.113.5")) == SourceVerdict::denied);
  CHECK(deny_only.check(ip("198.51.100.1")) == SourceVerdict::allowed);

  const SourceRules both({cidr("10.0.0.0/8"), cidr("2001:db8::/32")},
                         {cidr("10.66.0.0/16"), cidr("2001:db8:bad::/48")});
  CHECK(both.check(ip("10.1.2.3")) == SourceVerdict::allowed);
  CHECK(both.check(ip("10.66.2.3")) == SourceVerdict::denied);
  CHECK(both.check(ip("2001:db8::1")) == SourceVerdict::allowed);
  CHECK(both.check(ip("2001:db8:bad::1")) == SourceVerdict::denied);
  CHECK(both.check(ip("192.0.2.1")) == SourceVerdict::not_allowed);
  CHECK(both.check(ip("::1")) == SourceVerdict::not_allowed);
  CHECK(to_string(SourceVerdict::not_allowed) == "not_allowed");
  CHECK(to_string(SourceVerdict::denied) == "denied");

  // A client in both lists is denied.
  const SourceRules overlap({cidr("0.0.0.0/0")}, {cidr("0.0.0.0/0")});
  CHECK(overlap.check(ip("1.2.3.4")) == SourceVerdict::denied);
}
