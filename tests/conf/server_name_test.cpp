// Host names and server-name patterns: conf/server_name.h.
#include "conf/server_name.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace parkway::conf;

TEST_CASE("valid host names", "[conf][server_name]") {
  for (const std::string& name : std::vector<std::string>{
           "a", "localhost", "api.example.com", "API.Example.COM", "xn--bcher-kva.example",
           "a-b.c-d", "0a.example", "example.123a", std::string(63, 'x') + ".com"}) {
    INFO(name);
    CHECK(is_valid_host_name(name));
  }
  std::string longest;
  while (longest.size() < 253) longest += longest.empty() ? "a" : ".a";
  CHECK(is_valid_host_name(longest));
  CHECK_FALSE(is_valid_host_name(longest + "a"));
  for (const std::string& name : std::vector<std::string>{
           "", ".", "example.com.", ".example.com", "a..b", "-a.com", "a-.com", "a_b.com",
           "a b.com", "192.0.2.1", "example.123", "::1", "b\xc3\xbc.com", "*.example.com",
           std::string(64, 'x') + ".com", std::string("a\0b", 3)}) {
    INFO(name);
    CHECK_FALSE(is_valid_host_name(name));
  }
}

TEST_CASE("server-name patterns: exact names and *. wildcards", "[conf][server_name]") {
  const auto exact = parse_server_name_pattern("API.Example.com");
  REQUIRE(exact.ok());
  CHECK_FALSE(exact.value().wildcard);
  CHECK(exact.value().name == "api.example.com");
  CHECK(exact.value().to_string() == "api.example.com");
  CHECK(exact.value().matches("api.example.com"));
  CHECK(exact.value().matches("API.EXAMPLE.COM"));
  CHECK_FALSE(exact.value().matches("x.api.example.com"));

  const auto wild = parse_server_name_pattern("*.Internal");
  REQUIRE(wild.ok());
  CHECK(wild.value().wildcard);
  CHECK(wild.value().name == "internal");
  CHECK(wild.value().to_string() == "*.internal");
  CHECK(wild.value().matches("cache.internal"));
  CHECK(wild.value().matches("a.b.INTERNAL"));
  CHECK_FALSE(wild.value().matches("internal"));
  CHECK_FALSE(wild.value().matches("xinternal"));
  CHECK_FALSE(wild.value().matches(".internal"));

  for (const char* bad :
       {"*", "*.", "**.example.com", "a*.example.com", "*example.com", "api.*.com", "example.com.",
        "*.example.com.", "", "a_b", "*.192.0.2.1", "10.0.0.1"}) {
    const auto r = parse_server_name_pattern(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.expected().rfind("expected a server name such as \"api.example.com\"", 0) == 0);
  }
  CHECK(parse_server_name_pattern("a*.b").expected().find("'*' goes nowhere else") !=
        std::string::npos);
  CHECK(parse_server_name_pattern("a.b.").expected().find("no trailing dot") != std::string::npos);
}
