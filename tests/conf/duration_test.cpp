// Durations: conf/duration.h.
#include "conf/duration.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

using namespace std::chrono_literals;
using parkway::conf::format_duration;
using parkway::conf::parse_duration;

namespace {

std::chrono::nanoseconds parsed(std::string_view text) {
  const auto result = parse_duration(text);
  INFO("text: " << text << " expected: " << (result.ok() ? "" : result.expected()));
  REQUIRE(result.ok());
  return result.value();
}

std::string rejected(std::string_view text) {
  const auto result = parse_duration(text);
  INFO("text: " << text);
  REQUIRE_FALSE(result.ok());
  return result.expected();
}

}  // namespace

TEST_CASE("durations in every unit parse", "[conf][duration]") {
  CHECK(parsed("0") == 0ns);
  CHECK(parsed("0s") == 0ns);
  CHECK(parsed("0h") == 0ns);
  CHECK(parsed("1ns") == 1ns);
  CHECK(parsed("1us") == 1us);
  CHECK(parsed("1ms") == 1ms);
  CHECK(parsed("250ms") == 250ms);
  CHECK(parsed("5s") == 5s);
  CHECK(parsed("1m") == 1min);
  CHECK(parsed("1h") == 1h);
  CHECK(parsed("36h") == 36h);
}

TEST_CASE("durations with fractions and several terms parse", "[conf][duration]") {
  CHECK(parsed("1.5s") == 1500ms);
  CHECK(parsed(".5s") == 500ms);
  CHECK(parsed("1.s") == 1s);
  CHECK(parsed("0.001ms") == 1us);
  CHECK(parsed("1.5h") == 90min);
  CHECK(parsed("1h30m") == 90min);
  CHECK(parsed("1h30m15s") == 1h + 30min + 15s);
  CHECK(parsed("1m1m") == 2min);
  CHECK(parsed("1.000000001s") == 1s + 1ns);
  // Finer than a nanosecond is truncated, not rounded, and never an error.
  CHECK(parsed("1.9ns") == 1ns);
  CHECK(parsed("0.1234567891234567891234s") == 123456789ns);
}

TEST_CASE("the longest duration parses and one more nanosecond overflows", "[conf][duration]") {
  const auto max = std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max());
  CHECK(parsed("2562047h47m16.854775807s") == max);
  CHECK(parsed("9223372036854775807ns") == max);
  CHECK_THAT(rejected("2562047h47m16.854775808s"), Catch::Contains("at most 2562047h"));
  CHECK_THAT(rejected("9223372036854775808ns"), Catch::Contains("at most"));
  CHECK_THAT(rejected("2562048h"), Catch::Contains("at most"));
  CHECK_THAT(rejected("99999999999999999999999999h"), Catch::Contains("at most"));
  CHECK_THAT(rejected("2562047h2562047h"), Catch::Contains("at most"));
}

TEST_CASE("malformed durations are rejected with the reason", "[conf][duration]") {
  const std::string expected = R"(expected a duration such as "250ms", "5s" or "1h")";
  CHECK_THAT(rejected(""), Catch::StartsWith(expected) && Catch::Contains("empty"));
  CHECK_THAT(rejected("-1s"), Catch::StartsWith(expected) && Catch::Contains("negative"));
  CHECK_THAT(rejected("5"), Catch::StartsWith(expected) && Catch::Contains("needs a unit"));
  CHECK_THAT(rejected("1.5"), Catch::Contains("needs a unit"));
  CHECK_THAT(rejected("1d"), Catch::Contains("units are ns, us, ms, s, m and h"));
  CHECK_THAT(rejected("5seconds"), Catch::Contains("units are"));
  CHECK(rejected("5 seconds") == expected);
  for (const char* text : {"s", ".s", "+5s", " 5s", "5s ", "5S", "1h-1m", "1..5s", "1.5.5s", ".",
                           "0x10s", "5s\n", "\xff"}) {
    INFO(text);
    CHECK_THAT(rejected(text), Catch::StartsWith(expected));
  }
  CHECK_THAT(rejected(std::string_view("5s\0", 3)), Catch::StartsWith(expected));
}

TEST_CASE("durations format in their shortest exact form", "[conf][duration]") {
  CHECK(format_duration(0ns) == "0s");
  CHECK(format_duration(1ns) == "1ns");
  CHECK(format_duration(1001ns) == "1.001us");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(5s) == "5s");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(1h) == "1h");
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(1h + 500ms) == "1h500ms");
  CHECK(format_duration(36h) == "36h");
  CHECK(format_duration(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max())) ==
        "2562047h47m16.854775807s");
}

TEST_CASE("formatted durations parse back to the same value", "[conf][duration]") {
  // A deterministic spread over every magnitude, including odd nanosecond counts.
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const int shift = i % 63;
    const auto value = std::chrono::nanoseconds(static_cast<std::int64_t>((state >> 1) >> shift));
    const std::string text = format_duration(value);
    INFO(value.count() << " -> " << text);
    REQUIRE(parse_duration(text).ok());
    REQUIRE(parse_duration(text).value() == value);
  }
}
