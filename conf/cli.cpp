// The command line, with CLI11; see conf/cli.h for what it accepts.
//
// CLI11 splits the arguments and prints the help. Everything it would otherwise decide, it
// is kept from deciding: values are taken as text and read by conf/value.h (the same code
// as for TOML), unknown arguments are kept as "extras" and explained here, and every usage
// error goes through usage_error(), the one formatter of command-line messages.
#include "conf/cli.h"

// g++ 12 at -O2 reports a "potential null pointer dereference" inside CLI11's string
// splitting once it is inlined here (std::vector<std::string> growth, a known false
// positive). It is off for this file only, which holds no pointer code of its own.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include <CLI/CLI.hpp>
#include <memory>

#include "conf/keys.h"
#include "conf/validate.h"

#ifndef PARKWAY_VERSION
#define PARKWAY_VERSION "unknown"
#endif

namespace parkway::conf {
namespace {

constexpr int usage_exit_code = 2;
constexpr std::size_t help_column = 30;
constexpr std::size_t help_width = 80;

constexpr std::string_view usage_lines =
    "Usage: parkway [-c FILE] [OPTIONS]\n"
    "       parkway -L LISTEN=UPSTREAM[,UPSTREAM...] [-L ...] [OPTIONS]\n\n";

constexpr std::string_view examples =
    "EXAMPLES\n"
    "  parkway\n"
    "      Run the listeners and clusters of /etc/parkway/parkway.toml.\n"
    "  parkway -L 8080=10.0.0.5:80\n"
    "      Forward connections to 127.0.0.1:8080 to 10.0.0.5:80. A port alone binds the\n"
    "      loopback address, like ssh -L; write 0.0.0.0:8080 to accept from the network.\n"
    "  parkway -L 127.0.0.1:6380=redis-a:6379,redis-b:6379 --balance least_connections\n"
    "      Spread connections over two upstreams, each to the one with fewer open connections.\n"
    "  parkway -c ./parkway.toml --check-config\n"
    "      Check a config file: exit 0 if it is valid, or print every error and exit 1.\n"
    "  parkway -L 8080=10.0.0.5:80 --connect-timeout 2s --print-config\n"
    "      Print the config file that does what these flags do, to start one from.\n";

// The one formatter of command-line errors, one line: "parkway: <what was wrong>; <what is
// accepted>". A bad value reads "parkway: --flag \"value\": expected ...".
CommandLine usage_error(std::string_view what, std::string_view accepted = {}) {
  std::string line = "parkway: " + std::string(what);
  if (!accepted.empty()) line += "; " + std::string(accepted);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = c == '\n' ? ' ' : '?';
  }
  CommandLine out;
  out.action = Action::usage_error;
  out.exit_code = usage_exit_code;
  out.text = line + "\n";
  return out;
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// CLI11's help with our usage lines, and one blank line between option groups.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override { return std::string(usage_lines); }
  std::string make_group(std::string group, bool is_positional, std::vector<const CLI::Option*> opts) const override {
    std::string out = group + ":\n";
    for (const CLI::Option* opt : opts) out += make_option(opt, is_positional);
    return out;
  }
};

// A flag generated from a key-table row, and where CLI11 stores what it was given.
struct KeyFlag {
  std::string flag;  // "--connect-timeout"
  std::string_view section;
  std::string_view key;
  FlagUse use = FlagUse::none;
  bool is_bool = false;
  std::string text;
  bool boolean = false;
  CLI::Option* option = nullptr;
};

// A flag's help: the first sentence of the key's help, then its default and bounds.
std::string flag_help(const KeyDoc& doc) {
  std::string_view help = doc.help;
  if (const std::size_t end = help.find(". "); end != std::string_view::npos) help = help.substr(0, end + 1);
  std::string text(help);
  text += " Default: " + doc.default_text;
  if (!doc.accepted.empty() && doc.choices.empty()) text += "; accepts " + doc.accepted;
  text += ".";
  std::string out;
  for (const std::string& line : wrap_words(text, help_width - help_column)) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

// The value name shown after a flag: N, DURATION, or the alternatives of an enum.
std::string value_name(const KeyDoc& doc) {
  if (doc.type == "integer") return "N";
  if (doc.type == "duration") return "DURATION";
  if (doc.type == "address or off") return "ADDR|off";
  if (doc.type == "destination") return "stderr|off|PATH";
  if (!doc.choices.empty()) {
    std::string out;
    for (const std::string_view choice : doc.choices) out += (out.empty() ? "" : "|") + std::string(choice);
    return out;
  }
  return "VALUE";
}

// Checks `value` for a key, as the TOML reader would. Returns what was expected, or empty.
std::string check_setting(std::string_view section_name, std::string_view key_name, std::string_view value) {
  std::string problem;
  for_each_section([&](const auto& section) {
    using S = typename std::remove_cvref_t<decltype(section)>::Struct;
    if (section.name != section_name) return;
    for (const Key<S>& key : section.keys) {
      if (key.name != key_name) continue;
      S scratch = defaults<S>();
      problem = assign_text(key, value, scratch);
    }
  });
  return problem;
}

// The -L argument a key path of a forwards config comes from: listener[i] and cluster[i]
// are both forward i.
std::string forward_of(std::string_view key_path, const std::vector<Forward>& forwards) {
  const std::size_t open = key_path.find('[');
  const std::size_t close = key_path.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  std::size_t index = 0;
  for (const char c : key_path.substr(open + 1, close - open - 1)) index = index * 10 + static_cast<std::size_t>(c - '0');
  return index < forwards.size() ? forwards[index].spec : std::string();
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CLI::App app("parkway " PARKWAY_VERSION
               " - an L4 (TCP) proxy: listeners accept connections and forward them\n"
               "to the endpoints of a cluster.\n",
               "parkway");
  app.formatter(std::make_shared<HelpFormatter>());
  app.get_formatter()->column_width(help_column);
  app.set_help_flag();
  app.allow_extras();
  app.footer(std::string(examples));

  bool help = false;
  bool version = false;
  std::string config_path(default_config_path);
  bool check_config = false;
  bool print_config = false;
  std::vector<std::string> forward_specs;

  app.add_flag("-h,--help", help, "Print this help and exit.")->group("General");
  app.add_flag("--version", version, "Print the version and exit.")->group("General");

  CLI::Option* config_option =
      app.add_option("-c,--config", config_path,
                     "The config file to run from.\nDefault: " + std::string(default_config_path) + ".")
          ->type_name("FILE")
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
          ->group("Config file");
  app.add_flag("--check-config", check_config,
               "Check the config (file or -L forwards) and exit:\n0 if it is valid, 1 with every error.")
      ->group("Config file");
  app.add_flag("--print-config", print_config,
               "Print the effective config as TOML, defaults\nincluded, and exit.")
      ->group("Config file");

  app.add_option("-L,--forward", forward_specs,
                 "Forward connections instead of reading a config\nfile; repeat for more. LISTEN is "
                 "PORT (binds\n127.0.0.1), A.B.C.D:PORT or [V6]:PORT; UPSTREAM is\nhost:port or "
                 "[v6]:port. Each forward is a listener\nand a cluster named fwd-PORT.")
      ->type_name("LISTEN=UPSTREAM[,UPSTREAM...]")
      ->allow_extra_args(false)
      ->group("Forwards");

  // One flag per key that has one, in table order.
  const std::vector<KeyDoc> docs = key_docs();
  std::vector<std::unique_ptr<KeyFlag>> key_flags;
  for (const KeyDoc& doc : docs) {
    if (doc.flag == FlagUse::none) continue;
    auto flag = std::make_unique<KeyFlag>();
    flag->flag = doc.flag_name;
    flag->section = doc.section;
    flag->key = doc.name;
    flag->use = doc.flag;
    flag->is_bool = doc.type == "boolean";
    std::string group = "Forward settings (apply to every -L forward)";
    if (doc.flag == FlagUse::runtime) {
      group = doc.section == "runtime" ? "Runtime (override [runtime] in the file)"
                                       : "Operations (override [admin] and [access_log] in the file)";
    }
    if (flag->is_bool) {
      flag->option = app.add_flag(flag->flag, flag->boolean, flag_help(doc));
    } else {
      flag->option = app.add_option(flag->flag, flag->text, flag_help(doc))
                         ->type_name(value_name(doc))
                         ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    flag->option->group(group);
    key_flags.push_back(std::move(flag));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ConversionError& error) {
    // A yes/no flag given a value that is neither: "Could not convert: --reuse-port = maybe".
    std::string_view what = error.what();
    constexpr std::string_view prefix = "Could not convert: ";
    const std::size_t equals = what.find(" = ");
    if (what.starts_with(prefix) && equals != std::string_view::npos) {
      const std::string_view name = what.substr(prefix.size(), equals - prefix.size());
      return usage_error(std::string(name) + " " + in_quotes(what.substr(equals + 3)) + ": expected true or false");
    }
    return usage_error(what, "see parkway --help");
  } catch (const CLI::ParseError& error) {
    // What CLI11 still rejects itself: an option without its value ("--procs: 1 required
    // N missing").
    const std::string_view what = error.what();
    const std::size_t colon = what.find(':');
    if (colon != std::string_view::npos && what.find("missing") != std::string_view::npos) {
      return usage_error(std::string(what.substr(0, colon)) + " needs a value", "see parkway --help");
    }
    return usage_error(what, "see parkway --help");
  }

  CommandLine out;
  if (help) {
    out.action = Action::help;
    out.text = app.help();
    return out;
  }
  if (version) {
    out.action = Action::version;
    out.text = "parkway " PARKWAY_VERSION "\n";
    return out;
  }

  // Unknown options and stray words: CLI11 leaves them to us, so they are named exactly.
  // "--" ends the options; what follows it is a stray word whatever it looks like.
  std::vector<std::string> unknown_options;
  std::vector<std::string> strays;
  bool after_end = false;
  for (const std::string& extra : app.remaining()) {
    if (!after_end && extra == "--") after_end = true;
    else if (!after_end && extra.size() >= 2 && extra[0] == '-') unknown_options.push_back(extra);
    else strays.push_back(extra);
  }
  if (!unknown_options.empty()) {
    std::string_view name = unknown_options.front();
    name = name.substr(0, name.find('='));
    std::vector<std::string> known = {"help", "version", "config", "check-config", "print-config", "forward"};
    for (const auto& flag : key_flags) known.push_back(flag->flag.substr(2));
    const std::vector<std::string_view> candidates(known.begin(), known.end());
    std::string_view bare = name;
    while (!bare.empty() && bare.front() == '-') bare.remove_prefix(1);
    const std::string_view close = closest_match(bare, candidates);
    return usage_error("unknown option " + in_quotes(name),
                       close.empty() ? "see parkway --help for the options"
                                     : "did you mean --" + std::string(close) + "?");
  }
  if (!strays.empty()) {
    return usage_error("unexpected argument " + in_quotes(strays.front()),
                       "parkway takes options only, such as -c FILE or -L 8080=HOST:PORT");
  }

  const bool have_forwards = !forward_specs.empty();
  if (have_forwards && config_option->count() > 0) {
    return usage_error("-c/--config and -L/--forward do not go together",
                       "run either from a config file or from forwards");
  }
  if (check_config && print_config) {
    return usage_error("--check-config and --print-config do not go together", "use one of them");
  }

  for (const auto& flag : key_flags) {
    if (flag->option->count() == 0) continue;
    if (flag->use == FlagUse::forward && !have_forwards) {
      return usage_error(flag->flag + " applies to -L forwards only",
                         "with a config file, set " + std::string(flag->key) + " in its [[" +
                             std::string(flag->section) + "]] tables instead");
    }
    const std::string value = flag->is_bool ? (flag->boolean ? "true" : "false") : flag->text;
    if (const std::string problem = check_setting(flag->section, flag->key, value); !problem.empty()) {
      return usage_error(flag->flag + " " + in_quotes(value) + ": " + problem);
    }
    out.settings.push_back(FlagSetting{flag->flag, flag->section, flag->key, value});
  }

  for (const std::string& spec : forward_specs) {
    Parsed<Forward> forward = parse_forward(spec);
    if (!forward.ok()) {
      return usage_error("-L " + in_quotes(spec) + ": " + forward.expected(), forward.hint());
    }
    out.forwards.push_back(std::move(forward.value()));
  }
  if (have_forwards) {
    Config config = config_from_forwards(out.forwards);
    apply_settings(out.settings, config);
    for (const Diagnostic& diagnostic : validate(config)) {
      if (diagnostic.severity != Severity::error) continue;
      return usage_error("-L " + in_quotes(forward_of(diagnostic.key_path, out.forwards)) + ": " +
                         diagnostic.message);
    }
  }

  out.config_path = config_path;
  out.action = check_config ? Action::check_config : print_config ? Action::print_config : Action::run;
  return out;
}

LoadResult load(const CommandLine& command_line) {
  LoadResult result;
  if (!command_line.forwards.empty()) {
    Config config = config_from_forwards(command_line.forwards);
    apply_settings(command_line.settings, config);
    result.diagnostics = validate(config);
    if (!has_errors(result.diagnostics)) result.config = std::move(config);
    return result;
  }
  result = load_file(command_line.config_path);
  if (result.config) apply_settings(command_line.settings, *result.config);
  return result;
}

void apply_settings(const std::vector<FlagSetting>& settings, Config& config) {
  for (const FlagSetting& setting : settings) {
    for_each_section([&](const auto& section) {
      using Section = std::remove_cvref_t<decltype(section)>;
      if (section.name != setting.section) return;
      for (const auto& key : section.keys) {
        if (key.name != setting.key) continue;
        if constexpr (Section::repeated) {
          for (auto& item : config.*section.member) assign_text(key, setting.value, item);
        } else {
          assign_text(key, setting.value, config.*section.member);
        }
      }
    });
  }
}

}  // namespace parkway::conf
