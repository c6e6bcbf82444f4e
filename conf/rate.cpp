// Rates: conf/rate.h.
#include "conf/rate.h"

namespace parkway::conf {
namespace {

constexpr std::string_view rate_expected = R"(expected a rate such as "100/s", "10/m" or "1000/h")";

std::string with_reason(std::string_view why) {
  std::string out(rate_expected);
  out += " (";
  out += why;
  out += ')';
  return out;
}

}  // namespace

std::chrono::nanoseconds Rate::period() const {
  switch (unit) {
    case Unit::second: return std::chrono::seconds(1);
    case Unit::minute: return std::chrono::minutes(1);
    case Unit::hour: return std::chrono::hours(1);
  }
  return std::chrono::seconds(1);
}

std::chrono::nanoseconds Rate::interval() const { return period() / (count == 0 ? 1 : count); }

std::string Rate::to_string() const {
  const char* suffix = unit == Unit::second ? "/s" : unit == Unit::minute ? "/m" : "/h";
  return std::to_string(count) + suffix;
}

Parsed<Rate> parse_rate(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Parsed<Rate>::failure(with_reason("missing '/' and a unit s, m or h"));
  }
  const std::string_view count_text = text.substr(0, slash);
  const std::string_view unit_text = text.substr(slash + 1);

  const std::string count_reason =
      "a count 1.." + std::to_string(max_rate_count) + " before the '/', without leading zeros";
  if (count_text.empty() || count_text.size() > 7 || count_text[0] == '0') {
    return Parsed<Rate>::failure(with_reason(count_reason));
  }
  std::uint32_t count = 0;
  for (const char c : count_text) {
    if (c < '0' || c > '9') return Parsed<Rate>::failure(with_reason(count_reason));
    count = count * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (count > max_rate_count) return Parsed<Rate>::failure(with_reason(count_reason));

  Rate rate;
  rate.count = count;
  if (unit_text == "s") {
    rate.unit = Rate::Unit::second;
  } else if (unit_text == "m") {
    rate.unit = Rate::Unit::minute;
  } else if (unit_text == "h") {
    rate.unit = Rate::Unit::hour;
  } else {
    return Parsed<Rate>::failure(with_reason("the unit after the '/' is s, m or h"));
  }
  return rate;
}

}  // namespace parkway::conf
