// Reading a TOML config file into a Config (conf/config.h), or into diagnostics that say
// everything that is wrong with it.
//
// The file has a [runtime] table and [[listener]] and [[cluster]] arrays of tables; their
// keys, defaults and bounds are the rows of conf/keys.h. Every problem in the file is
// reported, not just the first, except a TOML syntax error, which stops the reading. Unknown
// keys are errors (a typo must never be silently ignored) with a "did you mean" suggestion.
// A cluster no listener uses is a warning, which does not stop the config from loading.
//
// No input makes these functions throw, crash or take long: every byte string is either a
// Config or diagnostics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/diagnostic.h"

namespace parkway::conf {

struct LoadResult {
  // Present exactly when no diagnostic is an error.
  std::optional<Config> config;
  // Errors and warnings in the order of the file; format() (conf/diagnostic.h) prints them.
  std::vector<Diagnostic> diagnostics;

  bool ok() const { return config.has_value(); }
};

// Reads and parses the file at `path`; Config::source and Diagnostic::file are `path`.
LoadResult load_file(const std::string& path);

// Parses `toml`; `source_name` stands for the file in Config::source and diagnostics.
LoadResult load_string(std::string_view toml, std::string source_name);

}  // namespace parkway::conf
