// The config diagnostic formatter; see conf/diagnostic.h for what it prints.
#include "conf/diagnostic.h"

#include <algorithm>
#include <cstdio>

namespace parkway::conf {
namespace {

// One character of a line as the user's terminal should see it: valid UTF-8 as it is,
// a control character or a byte that is not UTF-8 as \xNN (so that a config file can
// neither rewrite the terminal nor hand the journal invalid text). Returns how many
// bytes of `text` it took.
std::size_t next_printable(std::string_view text, std::string& out) {
  const auto b0 = static_cast<unsigned char>(text[0]);
  auto escape = [&](unsigned char byte) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02X", byte);
    out += buf;
    return std::size_t{1};
  };
  if (b0 < 0x80) {
    if ((b0 < 0x20 && b0 != '\t') || b0 == 0x7f) return escape(b0);
    out += static_cast<char>(b0);
    return 1;
  }
  // The length of a well-formed sequence (RFC 3629: no overlong forms, no surrogates,
  // nothing above U+10FFFF), or 0.
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  }
  if (n == 0 || text.size() < n) return escape(b0);
  for (std::size_t i = 1; i < n; i++) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return escape(b0);
  }
  // C1 controls (U+0080..U+009F) act on some terminals too.
  if (n == 2 && b0 == 0xC2 && static_cast<unsigned char>(text[1]) < 0xA0) {
    escape(b0);
    escape(static_cast<unsigned char>(text[1]));
    return 2;
  }
  out.append(text.substr(0, n));
  return n;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) text.remove_prefix(next_printable(text, out));
  return out;
}

}  // namespace

std::string format(const Diagnostic& diagnostic) {
  std::string out = printable(diagnostic.file);
  if (diagnostic.line > 0) {
    out += ':' + std::to_string(diagnostic.line) + ':' + std::to_string(diagnostic.column);
  }
  out += diagnostic.severity == Severity::error ? ": error: " : ": warning: ";
  if (!diagnostic.key_path.empty()) out += printable(diagnostic.key_path) + ": ";
  out += printable(diagnostic.message);
  out += '\n';

  std::string_view line = diagnostic.source_line;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (diagnostic.line == 0 || line.empty() || line.size() > max_echoed_line) return out;

  char number[16];
  std::snprintf(number, sizeof number, "%5u", static_cast<unsigned>(diagnostic.line));
  out += number;
  out += " | ";
  // The line, and under it a caret at the column (counted in characters), padded to
  // line up with what the line shows: tabs kept, escapes as wide as they print.
  std::string padding;
  std::uint32_t characters = 1;
  while (!line.empty()) {
    std::string shown;
    line.remove_prefix(next_printable(line, shown));
    out += shown;
    if (characters < diagnostic.column) {
      for (const char c : shown) {
        if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // continuation byte
        padding += c == '\t' ? '\t' : ' ';
      }
      ++characters;
    }
  }
  out += "\n      | " + padding;
  out += "^\n";
  return out;
}

std::string format(std::span<const Diagnostic> diagnostics) {
  std::string out;
  for (const Diagnostic& diagnostic : diagnostics) out += format(diagnostic);
  return out;
}

bool has_errors(std::span<const Diagnostic> diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::error; });
}

}  // namespace parkway::conf
