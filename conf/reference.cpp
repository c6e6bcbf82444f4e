// The reference config and the Markdown key table, both from conf/keys.h.
#include "conf/reference.h"

#include "conf/emit.h"
#include "conf/keys.h"

namespace parkway::conf {
namespace {

constexpr std::string_view preamble =
    "# parkway configuration: /etc/parkway/parkway.toml\n"
    "#\n"
    "# parkway accepts TCP connections on each [[listener]] and forwards them to an endpoint of\n"
    "# the [[cluster]] the listener names. This file forwards 127.0.0.1:10080 to 127.0.0.1:8080.\n"
    "# Every key is listed with its default; the required ones are marked. Durations are\n"
    "# strings such as \"250ms\", \"5s\", \"1h30m\" (units ns, us, ms, s, m, h).\n"
    "#\n"
    "# Check a change with `parkway --check-config -c FILE`; `systemctl reload parkway` applies\n"
    "# it, and keeps the running config if the new one has errors.\n"
    "#\n"
    "# Generated from conf/keys.h (conf::reference_toml()); the conf tests fail if it drifts.\n";

// Sets every required key of `target` to its example.
template <class S>
S with_examples() {
  S out = defaults<S>();
  for (const Key<S>& key : keys_of<S>()) {
    if (key.required()) assign_text(key, key.example_text, out);
  }
  return out;
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

}  // namespace

Config reference_config() {
  Config config = default_config();
  config.source = "/etc/parkway/parkway.toml";
  config.listeners.push_back(with_examples<Listener>());
  config.clusters.push_back(with_examples<Cluster>());
  return config;
}

std::string reference_toml() { return to_commented_toml(reference_config(), preamble); }

std::string key_table_markdown() {
  std::string out =
      "| Table | Key | Type | Default | Accepted | Flag | Meaning |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const KeyDoc& doc : key_docs()) {
    const std::string table = doc.repeated ? "[[" + std::string(doc.section) + "]]"
                                           : "[" + std::string(doc.section) + "]";
    std::string flag;
    if (doc.flag != FlagUse::none) flag = "`" + doc.flag_name + "`";
    if (doc.flag == FlagUse::forward) flag += " (with `-L`)";
    out += "| `" + table + "` | `" + std::string(doc.name) + "` | " + std::string(doc.type) +
           " | " +
           (doc.required ? std::string("required") : "`" + markdown_cell(doc.default_toml) + "`") +
           (doc.forward_default_toml.empty()
                ? std::string()
                : " (`" + markdown_cell(doc.forward_default_toml) + "` with `-L`)") +
           " | " + markdown_cell(doc.accepted) + " | " + flag + " | " + markdown_cell(doc.help) +
           " |\n";
  }
  return out;
}

}  // namespace parkway::conf
