// Parsing and formatting durations; the grammar is described in conf/duration.h.
#include "conf/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace parkway::conf {
namespace {

// 128-bit intermediate for "fraction * unit / scale", which overflows 64 bits for hours.
__extension__ typedef unsigned __int128 Uint128;

constexpr std::uint64_t max_ns =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

struct Unit {
  std::string_view name;
  std::uint64_t ns;
};
constexpr std::array<Unit, 6> units{{
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Parsed<std::chrono::nanoseconds> fail(std::string_view why = {}) {
  std::string expected(duration_expected);
  if (!why.empty()) {
    expected += " (";
    expected += why;
    expected += ')';
  }
  return Parsed<std::chrono::nanoseconds>::failure(std::move(expected));
}

Parsed<std::chrono::nanoseconds> too_long() {
  return Parsed<std::chrono::nanoseconds>::failure(
      "expected a duration of at most 2562047h (about 292 years)");
}

}  // namespace

Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return fail("the value is empty");
  if (text.front() == '-') return fail("durations cannot be negative");

  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The number: digits, optionally '.' and more digits; at least one digit in all.
    std::uint64_t whole = 0;
    bool whole_overflow = false;
    std::size_t digits = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
      if (whole > (max_ns - digit) / 10)
        whole_overflow = true;
      else
        whole = whole * 10 + digit;
      ++pos;
      ++digits;
    }
    std::uint64_t fraction = 0;  // the first 18 fractional digits, as an integer
    std::uint64_t scale = 1;     // 10^(number of digits kept in fraction)
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size() && is_digit(text[pos])) {
        if (scale < 1'000'000'000'000'000'000ULL) {
          fraction = fraction * 10 + static_cast<std::uint64_t>(text[pos] - '0');
          scale *= 10;
        }
        ++pos;
        ++digits;
      }
    }
    if (digits == 0) return fail();

    // The unit: the longest run of letters.
    const std::size_t unit_begin = pos;
    while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') ++pos;
    const std::string_view unit_name = text.substr(unit_begin, pos - unit_begin);
    if (unit_name.empty()) {
      if (pos < text.size()) return fail();
      return fail("a number needs a unit: ns, us, ms, s, m or h");
    }
    const Unit* unit = nullptr;
    for (const Unit& candidate : units) {
      if (candidate.name == unit_name) unit = &candidate;
    }
    if (unit == nullptr) return fail("units are ns, us, ms, s, m and h");

    if (whole_overflow || whole > max_ns / unit->ns) return too_long();
    std::uint64_t term = whole * unit->ns;
    term += static_cast<std::uint64_t>(static_cast<Uint128>(fraction) * unit->ns / scale);
    if (term > max_ns || total > max_ns - term) return too_long();
    total += term;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::nanoseconds d) {
  if (d.count() <= 0) return "0s";
  auto rest = static_cast<std::uint64_t>(d.count());
  std::string out;
  for (const std::uint64_t unit_ns : {units[5].ns, units[4].ns}) {  // whole hours, minutes
    const char* suffix = unit_ns == units[5].ns ? "h" : "m";
    if (rest >= unit_ns) {
      out += std::to_string(rest / unit_ns);
      out += suffix;
      rest %= unit_ns;
    }
  }
  if (rest == 0) return out;
  // What is left is under a minute: print it in the largest unit it fills, with an exact
  // decimal fraction ("1.5s", "2.25ms").
  std::size_t index = 3;  // s
  while (index > 0 && rest < units[index].ns) --index;
  const std::uint64_t unit_ns = units[index].ns;
  out += std::to_string(rest / unit_ns);
  if (const std::uint64_t remainder = rest % unit_ns; remainder != 0) {
    std::string digits = std::to_string(remainder);
    const std::size_t width = std::to_string(unit_ns).size() - 1;  // 1000 -> 3 digits
    digits.insert(0, width - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  out += units[index].name;
  return out;
}

}  // namespace parkway::conf
