// Durations as users write them: "250ms", "5s", "1h30m", "1.5s", "0".
//
// The grammar is Go's time.ParseDuration without signs: one or more <number><unit>
// terms, where a number may have a fraction ("1.5s", ".5s") and a unit is one of ns, us,
// ms, s, m, h. A bare "0" is the only number allowed without a unit. There is no
// whitespace, no sign, no empty string. Values are std::chrono::nanoseconds, so the longest
// duration is 2562047h47m16.854775807s (about 292 years); longer is an error, never a wrap.
// Fractions finer than a nanosecond are truncated.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "conf/parsed.h"

namespace parkway::conf {

// The phrase every bad duration is reported with, on the command line and in TOML.
inline constexpr std::string_view duration_expected =
    R"(expected a duration such as "250ms", "5s" or "1h")";

// Parses `text`; on failure, expected() is duration_expected, possibly followed by why
// (" (durations cannot be negative)").
Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text);

// The shortest exact spelling that parse_duration reads back to `d`: "0s", "250ms", "1.5s",
// "1m30s", "1h", "36h". Precondition: d >= 0.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace parkway::conf
