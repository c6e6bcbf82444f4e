// Routing by server name (proxy/wire/server_names.h): exact names before wildcards, the
// longest wildcard first, case-insensitive.
#include "proxy/wire/server_names.h"

#include <catch2/catch.hpp>

using parkway::conf::parse_server_name_pattern;
using parkway::proxy::wire::ServerNameRoutes;

namespace {

ServerNameRoutes::Entry entry(std::string_view pattern, std::size_t route) {
  auto p = parse_server_name_pattern(pattern);
  INFO(pattern);
  REQUIRE(p.ok());
  return {p.value(), route};
}

}  // namespace

TEST_CASE("exact names win over wildcards, in whatever order routes list them", "[server_names]") {
  const ServerNameRoutes routes({entry("*.example.com", 0), entry("*.internal", 0),
                                 entry("api.example.com", 1), entry("*.eu.example.com", 2),
                                 entry("example.com", 3), entry("*.com", 4)});
  CHECK(routes.match("api.example.com") == 1u);
  CHECK(routes.match("www.example.com") == 0u);
  CHECK(routes.match("a.b.example.com") == 0u);    // one or more labels
  CHECK(routes.match("db.eu.example.com") == 2u);  // the longer suffix
  CHECK(routes.match("x.y.eu.example.com") == 2u);
  CHECK(routes.match("eu.example.com") == 0u);  // "*.eu..." needs a label before eu
  CHECK(routes.match("example.com") == 3u);     // the wildcard never matches the apex
  CHECK(routes.match("other.com") == 4u);
  CHECK(routes.match("com") == std::nullopt);
  CHECK(routes.match("cache.internal") == 0u);
  CHECK(routes.match("internal") == std::nullopt);
  CHECK(routes.match("example.org") == std::nullopt);
  CHECK(routes.match("") == std::nullopt);
  CHECK(routes.match("xapi.example.com") == 0u);
  CHECK(routes.match("api.example.com.evil") == std::nullopt);
}

TEST_CASE("names compare case-insensitively", "[server_names]") {
  const ServerNameRoutes routes({entry("API.Example.com", 7), entry("*.Internal", 8)});
  CHECK(routes.match("api.example.com") == 7u);
  CHECK(routes.match("API.EXAMPLE.COM") == 7u);
  CHECK(routes.match("Cache.INTERNAL") == 8u);
}

TEST_CASE("a pattern listed twice stays with the earlier route", "[server_names]") {
  const ServerNameRoutes routes({entry("b.example", 5), entry("a.example", 2),
                                 entry("a.example", 1), entry("*.x", 3), entry("*.X", 0)});
  CHECK(routes.match("a.example") == 1u);
  CHECK(routes.match("b.example") == 5u);
  CHECK(routes.match("y.x") == 0u);
}

TEST_CASE("an empty table matches nothing, and long names are no trouble", "[server_names]") {
  const ServerNameRoutes none;
  CHECK(none.empty());
  CHECK(none.match("example.com") == std::nullopt);
  const ServerNameRoutes routes({entry("*.a", 1)});
  CHECK_FALSE(routes.empty());
  std::string name;
  while (name.size() < 251) name += "b.";
  name += "a";
  CHECK(routes.match(name) == 1u);
  CHECK(routes.match(std::string(300, 'b') + ".a") == std::nullopt);  // not a host name
}
