// Host names and server-name patterns: conf/server_name.h.
#include "conf/server_name.h"

#include <algorithm>

namespace parkway::conf {
namespace {

constexpr std::string_view pattern_expected =
    R"(expected a server name such as "api.example.com" or "*.example.com")";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z'); }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

std::string with_reason(std::string_view why) {
  std::string out(pattern_expected);
  out += " (";
  out += why;
  out += ')';
  return out;
}

}  // namespace

bool is_valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > max_host_name_length) return false;
  std::size_t begin = 0;
  bool last_all_digits = false;
  while (true) {
    std::size_t end = name.find('.', begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(begin, end - begin);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_all_digits = true;
    for (const char c : label) {
      if (!is_alnum(c) && c != '-') return false;
      if (!is_digit(c)) last_all_digits = false;
    }
    if (end == name.size()) break;
    begin = end + 1;
  }
  return !last_all_digits;
}

bool ServerNamePattern::matches(std::string_view host) const {
  if (!wildcard) return iequal(host, name);
  // One or more labels, then ".name".
  return host.size() > name.size() + 1 && host[host.size() - name.size() - 1] == '.' &&
         iequal(host.substr(host.size() - name.size()), name);
}

std::string ServerNamePattern::to_string() const { return wildcard ? "*." + name : name; }

Parsed<ServerNamePattern> parse_server_name_pattern(std::string_view text) {
  ServerNamePattern pattern;
  std::string_view name = text;
  if (name.size() >= 2 && name.substr(0, 2) == "*.") {
    pattern.wildcard = true;
    name.remove_prefix(2);
  }
  if (name.find('*') != std::string_view::npos) {
    return Parsed<ServerNamePattern>::failure(
        with_reason("a wildcard is \"*.\" followed by a name; '*' goes nowhere else"));
  }
  if (!name.empty() && name.back() == '.') {
    return Parsed<ServerNamePattern>::failure(with_reason("no trailing dot"));
  }
  if (!is_valid_host_name(name)) {
    return Parsed<ServerNamePattern>::failure(
        with_reason("labels of 1..63 letters, digits and '-', 253 characters in all, not an IP "
                    "address"));
  }
  pattern.name = lowered(name);
  return pattern;
}

}  // namespace parkway::conf
