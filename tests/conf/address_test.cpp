// Listen addresses and endpoints: conf/address.h.
#include "conf/address.h"

#include <catch2/catch.hpp>
#include <string>

using namespace parkway::conf;

namespace {

ListenAddress listen(std::string_view text) {
  const auto result = parse_listen_address(text);
  INFO(text << ": " << (result.ok() ? "" : result.expected()));
  REQUIRE(result.ok());
  return result.value();
}

std::string listen_error(std::string_view text) {
  const auto result = parse_listen_address(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.expected();
}

Endpoint endpoint(std::string_view text) {
  const auto result = parse_endpoint(text);
  INFO(text << ": " << (result.ok() ? "" : result.expected()));
  REQUIRE(result.ok());
  return result.value();
}

std::string endpoint_error(std::string_view text) {
  const auto result = parse_endpoint(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.expected();
}

}  // namespace

TEST_CASE("IPv4 listen addresses parse and print", "[conf][address]") {
  const ListenAddress address = listen("127.0.0.1:10080");
  CHECK(address.family == AddressFamily::ipv4);
  CHECK(address.bytes[0] == 127);
  CHECK(address.bytes[3] == 1);
  CHECK(address.bytes[4] == 0);
  CHECK(address.port == 10080);
  CHECK(address.to_string() == "127.0.0.1:10080");
  CHECK(listen("0.0.0.0:0").to_string() == "0.0.0.0:0");
  CHECK(listen("10.1.2.3:65535").port == 65535);
}

TEST_CASE("IPv6 listen addresses parse and print canonically", "[conf][address]") {
  const ListenAddress address = listen("[::1]:80");
  CHECK(address.family == AddressFamily::ipv6);
  CHECK(address.bytes[15] == 1);
  CHECK(address.to_string() == "[::1]:80");
  CHECK(listen("[0:0::1]:80") == address);
  CHECK(listen("[::]:0").to_string() == "[::]:0");
  CHECK(listen("[2001:DB8::1]:443").to_string() == "[2001:db8::1]:443");
  CHECK(listen("[::ffff:10.0.0.1]:1").to_string() == "[::ffff:10.0.0.1]:1");
}

TEST_CASE("listen ports are 0..65535", "[conf][address]") {
  CHECK(listen("127.0.0.1:0").port == 0);
  CHECK(listen("127.0.0.1:65535").port == 65535);
  CHECK(listen_error("127.0.0.1:65536") == "expected a port 0..65535");
  CHECK(listen_error("127.0.0.1:99999999999999999999") == "expected a port 0..65535");
  CHECK(listen_error("127.0.0.1:-1") == "expected a port 0..65535");
  CHECK(listen_error("127.0.0.1:+80") == "expected a port 0..65535");
  CHECK(listen_error("127.0.0.1: 80") == "expected a port 0..65535");
  CHECK_THAT(listen_error("127.0.0.1:"), Catch::Contains("0..65535"));
}

TEST_CASE("bad listen addresses say what was expected", "[conf][address]") {
  CHECK_THAT(listen_error("localhost:80"), Catch::Contains("not a DNS name"));
  CHECK_THAT(listen_error("127.0.0.1"), Catch::Contains("missing ':PORT'"));
  CHECK_THAT(listen_error("::1:80"), Catch::Contains("needs brackets"));
  CHECK_THAT(listen_error("[::1]80"), Catch::Contains("missing ':PORT' after ']'"));
  CHECK_THAT(listen_error("[::1"), Catch::Contains("missing ']'"));
  CHECK_THAT(listen_error("[x]:80"), Catch::Contains("not a valid IPv6"));
  CHECK_THAT(listen_error("[127.0.0.1]:80"), Catch::Contains("not a valid IPv6"));
  CHECK_THAT(listen_error(":80"), Catch::Contains("address is missing"));
  for (const char* text :
       {"1.2.3:80", "256.1.1.1:80", "01.2.3.4:80", "1.2.3.4.5:80", " 1.2.3.4:80", ""}) {
    INFO(text);
    CHECK_THAT(listen_error(text), Catch::StartsWith("expected an IP address and port"));
  }
  // inet_pton stops at a NUL; the parser must not.
  CHECK_FALSE(parse_listen_address(std::string_view("1.2.3.4\0x:80", 12)).ok());
}

TEST_CASE("endpoints are IP literals or DNS names", "[conf][address]") {
  const Endpoint v4 = endpoint("10.0.0.5:80");
  CHECK(v4.kind == Endpoint::Kind::ipv4);
  CHECK(v4.host == "10.0.0.5");
  CHECK(v4.port == 80);
  CHECK(v4.to_string() == "10.0.0.5:80");

  const Endpoint v6 = endpoint("[2001:DB8:0::1]:443");
  CHECK(v6.kind == Endpoint::Kind::ipv6);
  CHECK(v6.host == "2001:db8::1");
  CHECK(v6.to_string() == "[2001:db8::1]:443");

  const Endpoint name = endpoint("redis-a:6379");
  CHECK(name.kind == Endpoint::Kind::dns_name);
  CHECK(name.host == "redis-a");
  CHECK(name.to_string() == "redis-a:6379");

  CHECK(endpoint("db.internal.example.com:5432").kind == Endpoint::Kind::dns_name);
  CHECK(endpoint("A-1.b2:1").host == "A-1.b2");
  CHECK(endpoint("x:65535").port == 65535);
  CHECK(endpoint("1a.example:1").kind == Endpoint::Kind::dns_name);  // digits first are fine
  CHECK(endpoint(std::string(63, 'a') + ".b:1").kind == Endpoint::Kind::dns_name);
}

TEST_CASE("bad endpoints say what was expected", "[conf][address]") {
  CHECK(endpoint_error("a:0") == "expected a port 1..65535");
  CHECK(endpoint_error("a:65536") == "expected a port 1..65535");
  CHECK_THAT(endpoint_error("a:"), Catch::Contains("1..65535"));
  CHECK_THAT(endpoint_error("a"), Catch::Contains("missing ':PORT'"));
  CHECK_THAT(endpoint_error(":80"), Catch::Contains("host is missing"));
  CHECK_THAT(endpoint_error("::1:80"), Catch::Contains("needs brackets"));
  for (const char* text : {"-a:80", "a-:80", "a..b:80", ".a:80", "a.:80", "a_b:80", "a b:80",
                           "10.0.0.256:80", "1.2.3:80", "example.123:80", "ä.example:80"}) {
    INFO(text);
    CHECK_THAT(endpoint_error(text), Catch::Contains("neither an IP address nor a DNS name"));
  }
  CHECK_FALSE(parse_endpoint(std::string(64, 'a') + ":1").ok());
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "d";  // 257 characters
  CHECK_FALSE(parse_endpoint(long_name + ":1").ok());
}

TEST_CASE("endpoints compare case-insensitively by name", "[conf][address]") {
  CHECK(same_endpoint(endpoint("Redis:1"), endpoint("redis:1")));
  CHECK_FALSE(same_endpoint(endpoint("redis:1"), endpoint("redis:2")));
  CHECK(same_endpoint(endpoint("[::1]:1"), endpoint("[0::1]:1")));
}
