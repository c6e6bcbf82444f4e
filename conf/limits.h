// The bounds of a config file: what no real config needs, refused before the TOML parser
// sees the text, each with a diagnostic that names the line and the bound.
//
// Why before: toml++ recurses once per part of a dotted key or table header
// (a.b.c... = 1, [a.b.c...]), and its own nesting limit covers only arrays and inline
// tables, so a key of ~30,000 parts (a 61 KB line) overflows any thread's stack. The
// bounds below keep every recursion of the parser shallow and every pass over the text
// short, whatever the file holds:
//
//   file size         4 MiB     (a config of a thousand clusters is ~300 KB)
//   line length       64 KiB    (an endpoints array of 2,000 addresses on one line fits)
//   key parts         8         (per dotted key or table header; parkway's keys have 1,
//                               its tables 1)
//   nesting           16        (arrays and inline tables inside one value; parkway's
//                               deepest value is an array of inline tables: 2)
//   table headers     65536     ([..] and [[..]] in all; a listener and a cluster are two)
//
// The scan understands enough TOML to find keys: basic, literal and multi-line strings
// and comments are skipped, keys are what stands before '=' on a line or in an inline
// table, headers what stands between '[' and ']' at the start of a line.
//
// The diagnostics a file produces are capped as well (max_diagnostics): the first ones,
// in file order, then one line that says how many more there were.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "conf/diagnostic.h"

namespace parkway::conf {

inline constexpr std::size_t max_file_bytes = 4 * 1024 * 1024;
inline constexpr std::size_t max_line_bytes = 64 * 1024;
inline constexpr std::size_t max_key_parts = 8;
inline constexpr std::size_t max_value_nesting = 16;
inline constexpr std::size_t max_table_headers = 65536;
// Diagnostics reported for one file (one reload, one --check-config); the rest are counted.
inline constexpr std::size_t max_diagnostics = 50;

// The first bound `text` exceeds, as an error diagnostic for `file`; nullopt when within
// every bound. Linear in the size of the text, and allocates nothing unless it fails.
std::optional<Diagnostic> check_limits(std::string_view text, const std::string& file);

}  // namespace parkway::conf
