// The config diagnostic formatter; see conf/diagnostic.h for what it prints.
#include "conf/diagnostic.h"

#include <algorithm>
#include <cstdio>

namespace parkway::conf {
namespace {

// Control characters would let a config file rewrite the user's terminal.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 && c != '\t') || byte == 0x7f ? '?' : c;
  }
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
  out += printable(line);
  out += "\n      | ";
  // Pad to the column, counting UTF-8 characters and keeping tabs so the caret lines up.
  std::uint32_t characters = 1;
  for (const char c : line) {
    if (characters >= diagnostic.column) break;
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // continuation byte
    out += c == '\t' ? '\t' : ' ';
    ++characters;
  }
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
