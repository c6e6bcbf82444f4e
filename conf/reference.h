// Documentation generated from the key table (conf/keys.h), so that it cannot drift from
// what the parser accepts: the shipped, commented config file and the README's key table.
#pragma once

#include <string>

#include "conf/config.h"

namespace parkway::conf {

// One listener "app" on 127.0.0.1:10080 forwarding to the cluster "app" at
// 127.0.0.1:8080 (the examples of the required keys); everything else at its default.
Config reference_config();

// The text of packaging/parkway.toml: reference_config() with every key documented.
// A test compares the shipped file with it.
std::string reference_toml();

// A Markdown table of every key: table, key, type, default, accepted values, flag, meaning.
std::string key_table_markdown();

}  // namespace parkway::conf
