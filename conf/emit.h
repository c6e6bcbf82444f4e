// Printing a Config as TOML: every table and every key, defaults included, in the order of
// the key table (conf/keys.h). load_string() reads the text back to an equal Config; that
// is what `parkway --print-config` prints, and how a -L command line becomes a config file.
#pragma once

#include <string>
#include <string_view>

#include "conf/config.h"

namespace parkway::conf {

std::string to_toml(const Config& config);

// The same TOML with each table and key preceded by comments from the key table: what it
// does, what it accepts and its default. `preamble` (comment lines, '#' included) opens
// the text. This is the form of the shipped packaging/parkway.toml (conf/reference.h).
std::string to_commented_toml(const Config& config, std::string_view preamble);

}  // namespace parkway::conf
