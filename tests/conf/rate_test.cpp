// Rates ("100/s"): conf/rate.h.
#include "conf/rate.h"

#include <catch2/catch.hpp>

using namespace parkway::conf;
using namespace std::chrono_literals;

TEST_CASE("rates parse, print and give their token interval", "[conf][rate]") {
  const auto r = parse_rate("100/s");
  REQUIRE(r.ok());
  CHECK(r.value().count == 100);
  CHECK(r.value().unit == Rate::Unit::second);
  CHECK(r.value().period() == 1s);
  CHECK(r.value().interval() == 10ms);
  CHECK(r.value().to_string() == "100/s");
  CHECK(parse_rate("10/m").value().interval() == 6s);
  CHECK(parse_rate("1000/h").value().interval() == 3600ms);
  CHECK(parse_rate("1/h").value().interval() == 1h);
  CHECK(parse_rate("1000000/s").value().interval() == 1us);
  CHECK(parse_rate("7/h").value().interval().count() == 514285714285);  // rounded down
  for (const char* text : {"1/s", "10/m", "1000000/h"}) {
    CHECK(parse_rate(text).value().to_string() == text);
  }
}

TEST_CASE("rate errors say what was expected", "[conf][rate]") {
  for (const char* bad :
       {"0/s", "01/s", "-1/s", "+1/s", "1000001/s", "99999999/s", "/s", "x/s", "1.5/s", " 1/s"}) {
    const auto r = parse_rate(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.expected().rfind("expected a rate such as \"100/s\"", 0) == 0);
    CHECK(r.expected().find("a count 1..1000000") != std::string::npos);
  }
  for (const char* bad : {"1/", "1/sec", "1/S", "1/d", "1/s ", "1/ms", "1//s"}) {
    const auto r = parse_rate(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.expected().find("the unit after the '/' is s, m or h") != std::string::npos);
  }
  const auto missing = parse_rate("100");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.expected().find("missing '/'") != std::string::npos);
  CHECK_FALSE(parse_rate("").ok());
}
