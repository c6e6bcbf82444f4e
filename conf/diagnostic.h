// Diagnostic: one problem found in a config file or in forwards from the command line, and
// format(), the one formatter that turns it into what the user reads, compiler style:
//
//   /etc/parkway/parkway.toml:14:19: error: cluster[0].connect_timeout: expected a duration such as
//   "250ms", "5s" or "1h", found "5 seconds"
//      14 | connect_timeout = "5 seconds"
//         |                   ^
//
// Every message says what was found and what was expected (with the bounds of numbers).
// A diagnostic without a line (the file cannot be read, there is no listener at all) is
// printed as "file: error: message".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace parkway::conf {

enum class Severity { error, warning };

// Longer source lines are not echoed (the caret would be lost in them) nor even kept.
inline constexpr std::size_t max_echoed_line = 256;

struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;          // the path as given, or "command line"
  std::uint32_t line = 0;    // 1-based; 0 when the problem has no single place
  std::uint32_t column = 0;  // 1-based, counted in characters
  std::string key_path;      // "cluster[1].connect_timeout"; empty for syntax errors
  std::string message;       // what was found, and what was expected instead
  std::string source_line;   // the text of `line`, echoed with a caret; may be empty

  bool operator==(const Diagnostic&) const = default;
};

// The diagnostic as the user reads it; ends with a newline.
std::string format(const Diagnostic& diagnostic);
// All of them, in order.
std::string format(std::span<const Diagnostic> diagnostics);

bool has_errors(std::span<const Diagnostic> diagnostics);

}  // namespace parkway::conf
