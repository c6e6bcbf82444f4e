// The bounds of a config file (conf/limits.h): what no real config needs is refused with a
// diagnostic that names the line and the bound, before the TOML parser sees it; and the
// diagnostics of one file are capped.
#include "conf/limits.h"

#include <catch2/catch.hpp>
#include <string>

#include "conf/parse.h"

using namespace parkway::conf;

namespace {

const std::string minimal = R"([[listener]]
name = "app"
address = "127.0.0.1:10080"
cluster = "app"

[[cluster]]
name = "app"
endpoints = ["127.0.0.1:8080"]
)";

std::string dotted(std::size_t parts) {
  std::string key = "a";
  for (std::size_t i = 1; i < parts; i++) key += ".a";
  return key;
}

}  // namespace

TEST_CASE("a valid config is within every bound", "[conf][limits]") {
  CHECK_FALSE(check_limits(minimal, "ok.toml").has_value());
  // Strings, comments and multi-line strings may hold anything: dots, brackets, quotes.
  const std::string tricky = minimal + R"(# a.b.c.d.e.f.g.h.i.j [[[[ {{{{
[runtime]
log_level = "a.b.c.d.e.f.g.h.i.j.k" # "
drain_timeout = 'x.y.z.a.b.c.d.e.f.g' # [[[[[[[[[[[[[[[[[[[
procs = """
a.b.c.d.e.f.g.h.i.j [[[[[[[[[[[[[[[[[[[ \"""
"""
x = '''
[[[[[[[[[[[[[[[[[[[[[[[[ a.b.c.d.e.f.g.h.i.j
'''
y = [[1, 2], [3,
  [4, # [[[[[[[[[[[[[[[[[[[[
   5]]]
z = { a = 1, b.c = 2, "d.e.f.g.h.i.j.k.l" = 3 }
)";
  CHECK_FALSE(check_limits(tricky, "tricky.toml").has_value());
}

TEST_CASE("deep keys and headers are refused before the parser sees them", "[conf][limits]") {
  for (const std::string& text :
       {dotted(31000) + " = 1\n", "[" + dotted(31000) + "]\n", "[[" + dotted(31000) + "]]\n",
        minimal + "\n\n" + dotted(9) + " = 1\n", "x = { " + dotted(30000) + " = 1 }\n",
        "\"q\".'r'." + dotted(8) + " = 1\n"}) {
    INFO(text.substr(0, 80));
    const auto d = check_limits(text, "deep.toml");
    REQUIRE(d.has_value());
    CHECK_THAT(d->message, Catch::StartsWith("expected a key of at most 8 dotted parts"));
    CHECK(d->line >= 1);
    // And load_string reports it instead of recursing into it.
    const LoadResult r = load_string(text, "deep.toml");
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0] == *d);
  }
  const auto at_line = check_limits(minimal + "\n\n" + dotted(9) + " = 1\n", "deep.toml");
  REQUIRE(at_line);
  CHECK(at_line->line == 11);
  CHECK(format(*at_line) ==
        "deep.toml:11:1: error: expected a key of at most 8 dotted parts (parkway's keys have "
        "one: name = value), found 9\n"
        "   11 | a.a.a.a.a.a.a.a.a = 1\n"
        "      | ^\n");
  CHECK_FALSE(check_limits(dotted(8) + " = 1\n", "eight.toml").has_value());
}

TEST_CASE("long lines, deep values, many tables and big files are refused", "[conf][limits]") {
  const auto line =
      check_limits(minimal + "x = \"" + std::string(max_line_bytes, 'x') + "\"\n", "f");
  REQUIRE(line);
  CHECK(line->line == 9);
  CHECK_THAT(line->message, Catch::StartsWith("expected lines of at most 64 KiB"));
  CHECK(line->source_line.empty());  // far too long to echo

  const auto nested =
      check_limits("x = " + std::string(17, '[') + std::string(17, ']') + "\n", "f");
  REQUIRE(nested);
  CHECK_THAT(nested->message,
             Catch::StartsWith("expected arrays and inline tables nested at most 16"));
  CHECK_FALSE(check_limits("x = " + std::string(16, '[') + std::string(16, ']') + "\n", "f"));
  CHECK(check_limits("x = " + std::string(9, '{') + "a = " + std::string(9, '{'), "f"));

  std::string tables;
  for (std::size_t i = 0; i <= max_table_headers; i++) tables += "[[cluster]]\n";
  const auto many = check_limits(tables, "f");
  REQUIRE(many);
  CHECK(many->line == max_table_headers + 1);

  const auto big = check_limits(std::string(max_file_bytes + 1, '\n'), "f");
  REQUIRE(big);
  CHECK(big->line == 0);
  CHECK_THAT(big->message, Catch::StartsWith("expected a config file of at most 4 MiB"));
}

TEST_CASE("diagnostics are capped: the first in file order, then how many more", "[conf][limits]") {
  std::string text = minimal + "[runtime]\n";
  for (int i = 0; i < 100000; i++) text += "unknown_" + std::to_string(i) + " = 1\n";
  const LoadResult r = load_string(text, "many.toml");
  CHECK_FALSE(r.ok());
  REQUIRE(r.diagnostics.size() == max_diagnostics + 1);
  for (std::size_t i = 0; i < max_diagnostics; i++) {
    INFO(i);
    CHECK(r.diagnostics[i].line == 10 + i);
  }
  CHECK(r.diagnostics.back().line == 0);
  CHECK(r.diagnostics.back().severity == Severity::error);
  CHECK(format(r.diagnostics.back()) ==
        "many.toml: error: " + std::to_string(100000 - max_diagnostics) + " more problems (" +
            std::to_string(100000 - max_diagnostics) +
            " errors) not shown: at most 50 are reported; fix these first\n");
}

TEST_CASE("echoed lines escape bytes that are not UTF-8 and control characters", "[conf][limits]") {
  // "\xff" is no UTF-8; "\xc2\x85" is a C1 control; é is fine. The caret still lines up.
  const LoadResult r =
      load_string("[runtime]\nprocs = \"\xff\xc3\xa9\xc2\x85\" # \x1b[2J\n" + minimal, "u.toml");
  REQUIRE(r.diagnostics.size() == 1);
  const std::string text = format(r.diagnostics[0]);
  CHECK(text.find('\xff') == std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("\xc2\x85") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("    2 | procs = \"\\xFF\xc3\xa9\\xC2\\x85\" # \\x1B[2J\n"
                                   "      |         ^\n"));
}
