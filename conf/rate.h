// Rates, as connection_rate_per_source takes them: "<count>/<unit>", a count of events per
// second, minute or hour.
//
//   "100/s"   100 per second      "10/m"   10 per minute      "1000/h"   1000 per hour
//
// count is 1..1000000, decimal without sign or leading zeros; the unit is s, m or h; no
// spaces. A rate is a token bucket of `count` tokens refilled continuously at count per
// unit: "10/m" admits a burst of 10, then one every 6 s (proxy/source_limits.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/parsed.h"

namespace parkway::conf {

inline constexpr std::uint32_t max_rate_count = 1'000'000;

struct Rate {
  enum class Unit { second, minute, hour };

  std::uint32_t count = 1;  // 1..max_rate_count
  Unit unit = Unit::second;

  // 1s, 1min or 1h.
  std::chrono::nanoseconds period() const;
  // period() / count, rounded down to the nanosecond (exact for every per-second rate and
  // every count dividing 60 or 3600 billion): the time one token takes to come back.
  std::chrono::nanoseconds interval() const;
  // "100/s", "10/m", "1000/h".
  std::string to_string() const;
  bool operator==(const Rate&) const = default;
};

Parsed<Rate> parse_rate(std::string_view text);

}  // namespace parkway::conf
