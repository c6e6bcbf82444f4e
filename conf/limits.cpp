// The scan that enforces conf/limits.h: one pass over the text, a few bytes of state.
#include "conf/limits.h"

#include <cstdint>
#include <vector>

namespace parkway::conf {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

class Scanner {
 public:
  Scanner(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  std::optional<Diagnostic> run() {
    if (text_.size() > max_file_bytes) {
      return fail(0, 0,
                  "expected a config file of at most " + std::to_string(max_file_bytes >> 20) +
                      " MiB, found " + std::to_string(text_.size()) + " bytes");
    }
    if (auto d = check_line_lengths()) return d;
    while (i_ < text_.size() && !failed_) statement();
    return failure_;
  }

 private:
  // ---- the parts of a file ------------------------------------------------------------

  // One line at the top level: blank, a comment, a table header, or key = value.
  void statement() {
    skip_blank();
    if (at_end()) return;
    const char c = text_[i_];
    if (c == '\n') {
      i_++;
      line_++;
      return;
    }
    if (c == '#') {
      skip_comment();
      return;
    }
    if (c == '[') {
      header();
      return;
    }
    key();
    skip_blank();
    if (!at_end() && text_[i_] == '=') {
      i_++;
      value();
    } else {
      skip_to_end_of_line();  // not TOML: the parser will say what is wrong
    }
  }

  void header() {
    const std::uint32_t at = line_;
    i_++;  // '['
    if (!at_end() && text_[i_] == '[') i_++;
    if (++headers_ > max_table_headers) {
      fail(at, 1,
           "expected at most " + std::to_string(max_table_headers) +
               " table headers in a config file, found more");
      return;
    }
    key();
    skip_to_end_of_line();
  }

  // A dotted key: counts its parts.
  void key() {
    const std::uint32_t at = line_;
    const std::size_t column = column_of(i_);
    std::size_t parts = 0;
    for (;;) {
      skip_blank();
      if (at_end()) break;
      const char c = text_[i_];
      if (c == '"') {
        skip_basic_string();
      } else if (c == '\'') {
        skip_literal_string();
      } else if (is_bare_key_char(c)) {
        while (!at_end() && is_bare_key_char(text_[i_])) i_++;
      } else {
        break;
      }
      parts++;
      skip_blank();
      if (at_end() || text_[i_] != '.') break;
      i_++;
    }
    if (parts > max_key_parts) {
      fail(at, column,
           "expected a key of at most " + std::to_string(max_key_parts) +
               " dotted parts (parkway's keys have one: name = value), found " +
               std::to_string(parts));
    }
  }

  // A value, up to the end of its line or, for an array, of its last line.
  void value() {
    std::vector<char> open;  // '[' and '{' of the arrays and inline tables we are in
    bool expect_key = false;
    while (!at_end() && !failed_) {
      if (expect_key) {
        key();
        skip_blank();
        if (!at_end() && text_[i_] == '=') i_++;
        expect_key = false;
        continue;
      }
      const char c = text_[i_];
      switch (c) {
        case '"': skip_basic_string(); break;
        case '\'': skip_literal_string(); break;
        case '#': skip_comment(); break;
        case '\n':
          if (open.empty()) return;  // the end of the statement
          i_++;
          line_++;
          break;
        case '[':
        case '{':
          open.push_back(c);
          if (open.size() > max_value_nesting) {
            fail(line_, column_of(i_),
                 "expected arrays and inline tables nested at most " +
                     std::to_string(max_value_nesting) + " deep in a value, found deeper");
            return;
          }
          i_++;
          expect_key = c == '{';
          break;
        case ']':
        case '}':
          if (!open.empty()) open.pop_back();
          i_++;
          break;
        case ',':
          i_++;
          expect_key = !open.empty() && open.back() == '{';
          break;
        default: i_++;
      }
    }
  }

  // ---- lexical pieces -----------------------------------------------------------------

  bool at_end() const { return i_ >= text_.size(); }
  bool starts_with(std::string_view s) const { return text_.substr(i_, s.size()) == s; }

  void skip_blank() {
    while (!at_end() && (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\r')) i_++;
  }
  void skip_comment() {
    while (!at_end() && text_[i_] != '\n') i_++;
  }
  void skip_to_end_of_line() {
    while (!at_end() && text_[i_] != '\n') {
      if (text_[i_] == '"') {
        skip_basic_string();
      } else if (text_[i_] == '\'') {
        skip_literal_string();
      } else {
        i_++;
      }
    }
  }
  // "..." or """...""", escapes included; counts the lines of a multi-line one.
  void skip_basic_string() {
    const bool multi = starts_with("\"\"\"");
    i_ += multi ? 3 : 1;
    while (!at_end()) {
      const char c = text_[i_];
      if (c == '\\') {
        i_++;
        if (!at_end() && text_[i_] == '\n') line_++;
        if (!at_end()) i_++;
        continue;
      }
      if (c == '\n') {
        if (!multi) return;  // unterminated: the parser reports it
        line_++;
      }
      if (multi ? starts_with("\"\"\"") : c == '"') {
        i_ += multi ? 3 : 1;
        while (multi && !at_end() && text_[i_] == '"') i_++;  // up to two quotes belong to it
        return;
      }
      i_++;
    }
  }
  // '...' or '''...''' (no escapes).
  void skip_literal_string() {
    const bool multi = starts_with("'''");
    i_ += multi ? 3 : 1;
    while (!at_end()) {
      const char c = text_[i_];
      if (c == '\n') {
        if (!multi) return;
        line_++;
      }
      if (multi ? starts_with("'''") : c == '\'') {
        i_ += multi ? 3 : 1;
        while (multi && !at_end() && text_[i_] == '\'') i_++;
        return;
      }
      i_++;
    }
  }

  std::optional<Diagnostic> check_line_lengths() {
    std::uint32_t line = 1;
    std::size_t begin = 0;
    while (begin <= text_.size()) {
      std::size_t end = text_.find('\n', begin);
      if (end == std::string_view::npos) end = text_.size();
      if (end - begin > max_line_bytes) {
        return fail(line, 1,
                    "expected lines of at most " + std::to_string(max_line_bytes >> 10) +
                        " KiB, found one of " + std::to_string(end - begin) + " bytes");
      }
      begin = end + 1;
      line++;
    }
    return std::nullopt;
  }

  std::size_t column_of(std::size_t offset) const {
    const std::size_t nl = offset == 0 ? std::string_view::npos : text_.rfind('\n', offset - 1);
    return nl == std::string_view::npos ? offset + 1 : offset - nl;
  }

  std::optional<Diagnostic> fail(std::uint32_t line, std::size_t column, std::string message) {
    Diagnostic d;
    d.file = file_;
    d.line = line;
    d.column = static_cast<std::uint32_t>(line == 0 ? 0 : std::max<std::size_t>(column, 1));
    d.message = std::move(message);
    if (line > 0) {
      // The line, if short enough to echo.
      std::size_t begin = 0;
      for (std::uint32_t n = 1; n < line && begin != std::string_view::npos; n++) {
        begin = text_.find('\n', begin);
        if (begin != std::string_view::npos) begin++;
      }
      if (begin != std::string_view::npos) {
        const std::size_t end = text_.find('\n', begin);
        const std::string_view text =
            text_.substr(begin, end == std::string_view::npos ? end : end - begin);
        if (text.size() <= max_echoed_line) d.source_line = std::string(text);
      }
    }
    failed_ = true;
    failure_ = d;
    return d;
  }

  std::string_view text_;
  const std::string& file_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1;
  std::size_t headers_ = 0;
  bool failed_ = false;
  std::optional<Diagnostic> failure_;
};

}  // namespace

std::optional<Diagnostic> check_limits(std::string_view text, const std::string& file) {
  return Scanner(text, file).run();
}

}  // namespace parkway::conf
