// The command line, with CLI11; see conf/cli.h for what it accepts.
//
// CLI11 splits the arguments and prints the help. Everything it would otherwise decide, it
// is kept from deciding: values, yes/no flags included, are taken as text and read by
// conf/value.h (the same code as for TOML), unknown arguments are kept as "extras" and
// explained here, and every usage error goes through usage_error(), the one formatter of
// command-line messages. Nothing here reads CLI11's English: what went wrong is told by
// the type of its exception and by its options (get_options(), their names and results).
#include "conf/cli.h"

// g++ 12 at -O2 reports a "potential null pointer dereference" inside CLI11's string
// splitting once it is inlined here (std::vector<std::string> growth, a known false
// positive). It is off for this file only, which holds no pointer code of its own.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <system_error>

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
    "       parkway -L LISTEN=UPSTREAM[,UPSTREAM...] [-L ...] [OPTIONS]\n"
    "       parkway status [--admin ADDR | -c FILE]\n\n";

constexpr std::string_view examples =
    "EXAMPLES\n"
    "  parkway -L 8080=10.0.0.5:80\n"
    "      Forward connections to port 8080 of this machine's loopback (127.0.0.1 and ::1)\n"
    "      to 10.0.0.5:80, as ssh -L 8080:10.0.0.5:80 would; write 0.0.0.0:8080 to accept\n"
    "      from the network. Add --log-level debug for a line per connection.\n"
    "  parkway -L 127.0.0.1:6380=redis-a:6379,redis-b:6379 --balance least_connections\n"
    "      Spread connections over two upstreams, each to the one with fewer open connections.\n"
    "  parkway -L 8080=10.0.0.5:80 --access-log access.log --admin 9901\n"
    "      Also write one JSON line per connection to ./access.log, and serve metrics on\n"
    "      http://127.0.0.1:9901/metrics.\n"
    "  parkway\n"
    "      Run the listeners and clusters of /etc/parkway/parkway.toml.\n"
    "  parkway -c ./parkway.toml --check-config\n"
    "      Check a config file: exit 0 if it is valid, or print every error and exit 1.\n"
    "  parkway -L 8080=10.0.0.5:80 --connect-timeout 2s --print-config\n"
    "      Print the config file that does what these flags do, to start one from.\n"
    "  parkway status\n"
    "      Print the health of every address of a running parkway, from the admin endpoint\n"
    "      of /etc/parkway/parkway.toml (or --admin 9901, or -c FILE).\n";

// What a missing default config file is told, besides that it is missing.
constexpr std::string_view no_config_hint =
    "give a config with -c FILE, or forward with -L PORT=HOST:PORT (parkway --help)";

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
  std::string make_usage(const CLI::App*, std::string) const override {
    return std::string(usage_lines);
  }
  std::string make_group(std::string group, bool is_positional,
                         std::vector<const CLI::Option*> opts) const override {
    std::string out = group + ":\n";
    for (const CLI::Option* opt : opts) out += make_option(opt, is_positional);
    return out;
  }
};

// A flag generated from a key-table row. CLI11 keeps what it was given as text, in
// option->results(): a value, or "true" for a yes/no flag written without one.
struct KeyFlag {
  std::string flag;  // "--connect-timeout"
  std::string_view section;
  std::string_view key;
  std::string_view type;  // conf/value.h type_name
  FlagUse use = FlagUse::none;
  CLI::Option* option = nullptr;
};

// The last value given to `option` (a later one wins, as on most command lines).
std::string last_value(const CLI::Option* option) {
  return option->results().empty() ? std::string() : option->results().back();
}

// A flag's help: the first sentence of the key's help, then its default and bounds.
std::string flag_help(const KeyDoc& doc) {
  std::string_view help = doc.help;
  if (const std::size_t end = help.find(". "); end != std::string_view::npos)
    help = help.substr(0, end + 1);
  std::string text(help);
  text += " Default: " + doc.default_text;
  if (!doc.forward_default_text.empty()) text += " (" + doc.forward_default_text + " with -L)";
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
    for (const std::string_view choice : doc.choices)
      out += (out.empty() ? "" : "|") + std::string(choice);
    return out;
  }
  return "VALUE";
}

// Checks `value` for a key, as the TOML reader would. Returns what was expected, or empty.
std::string check_setting(std::string_view section_name, std::string_view key_name,
                          std::string_view value) {
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

// The -L argument that the table of a key path ("listener[3].address") of a forwards
// config comes from.
std::string forward_of(std::string_view key_path, const ForwardsConfig& made,
                       const std::vector<Forward>& forwards) {
  const std::size_t open = key_path.find('[');
  const std::size_t close = key_path.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  std::size_t index = 0;
  for (const char c : key_path.substr(open + 1, close - open - 1))
    index = index * 10 + static_cast<std::size_t>(c - '0');
  const std::vector<std::size_t>& origin =
      key_path.starts_with("listener") ? made.listener_forward : made.cluster_forward;
  return index < origin.size() ? forwards[origin[index]].spec : std::string();
}

// A file path given on the command line is relative to the working directory: made
// absolute here, so that the config says where the file is whatever directory it is read
// in. "stderr", "off" and absolute paths are left alone, and so is a path when the working
// directory is gone (the value check then explains it).
std::string absolute_destination(const std::string& value) {
  if (value.empty() || value == "stderr" || value == "off" || value.front() == '/') return value;
  std::error_code error;
  const std::filesystem::path path = std::filesystem::absolute(value, error);
  return error ? value : path.lexically_normal().string();
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CLI::App app("parkway " PARKWAY_VERSION
               " - a TCP proxy: it accepts connections on listening ports and\n"
               "forwards each to an upstream server.\n",
               "parkway");
  app.formatter(std::make_shared<HelpFormatter>());
  app.get_formatter()->column_width(help_column);
  app.set_help_flag();
  app.allow_extras();
  app.footer(std::string(examples));

  std::string config_path(default_config_path);
  std::vector<std::string> forward_specs;

  // Yes/no flags have no variable: their text (option->results()) is read below, as a
  // key's value would be, so that "--help=maybe" is explained like any bad value.
  const std::string help_text = "Print this help and exit.";
  const std::string version_text = "Print the version and exit.";
  const std::string check_text =
      "Check the config (file or -L forwards) and exit:\n0 if it is valid, 1 with every error.";
  const std::string print_text =
      "Print the effective config as TOML, defaults\nincluded, and exit.";
  CLI::Option* help_option = app.add_flag("-h,--help", help_text)->group("General");
  CLI::Option* version_option = app.add_flag("--version", version_text)->group("General");

  CLI::Option* config_option =
      app.add_option(
             "-c,--config", config_path,
             "The config file to run from.\nDefault: " + std::string(default_config_path) + ".")
          ->type_name("FILE")
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
          ->group("Config file");
  CLI::Option* check_option = app.add_flag("--check-config", check_text)->group("Config file");
  CLI::Option* print_option = app.add_flag("--print-config", print_text)->group("Config file");

  app.add_option(
         "-L,--forward", forward_specs,
         "Forward connections instead of reading a config\nfile; repeat for more. LISTEN is "
         "PORT (binds\n127.0.0.1 and ::1), A.B.C.D:PORT or [V6]:PORT;\nUPSTREAM is "
         "host:port or [v6]:port. Each forward\nis a listener and a cluster named fwd-PORT.")
      ->type_name("LISTEN=UPSTREAM[,UPSTREAM...]")
      ->allow_extra_args(false)
      ->group("Forwards");

  // One flag per key that has one, in table order.
  const std::vector<KeyDoc> docs = key_docs();
  std::vector<KeyFlag> key_flags;
  for (const KeyDoc& doc : docs) {
    if (doc.flag == FlagUse::none) continue;
    KeyFlag flag;
    flag.flag = doc.flag_name;
    flag.section = doc.section;
    flag.key = doc.name;
    flag.type = doc.type;
    flag.use = doc.flag;
    std::string group = "Forward settings (apply to every -L forward)";
    if (doc.flag == FlagUse::runtime) {
      group = doc.section == "runtime"
                  ? "Runtime (override [runtime] in the file)"
                  : "Operations (override [admin] and [access_log] in the file)";
    }
    const std::string help = flag_help(doc);
    if (doc.type == "boolean") {
      flag.option = app.add_flag(flag.flag, help);
    } else {
      flag.option = app.add_option(flag.flag, help)
                        ->type_name(value_name(doc))
                        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    flag.option->group(group);
    key_flags.push_back(std::move(flag));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ArgumentMismatch& error) {
    // Every option takes exactly one value, and CLI11 takes the next argument whatever it
    // looks like: a value can only be missing after the last argument.
    if (argc > 1) {
      const std::string last = argv[argc - 1];
      const CLI::Option* option = app.get_option_no_throw(last);
      if (option != nullptr && option->get_items_expected_min() > 0)
        return usage_error(last + " needs a value", "see parkway --help");
    }
    return usage_error(error.what(), "see parkway --help");
  } catch (const CLI::ParseError& error) {
    // Nothing else is expected (no value is converted, nothing is required): say what
    // CLI11 says.
    return usage_error(error.what(), "see parkway --help");
  }

  // The yes/no flags that are not keys: absent, or given as "true"/"false".
  bool help = false, version = false, check_config = false, print_config = false;
  for (const auto& [option, value] :
       {std::pair{help_option, &help}, std::pair{version_option, &version},
        std::pair{check_option, &check_config}, std::pair{print_option, &print_config}}) {
    if (option->count() == 0) continue;
    const std::string text = last_value(option);
    const Parsed<bool> given = parse_bool(text);
    if (!given.ok()) {
      return usage_error("--" + option->get_lnames().front() + " " + in_quotes(text) + ": " +
                         given.expected());
    }
    *value = given.value();
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
    if (!after_end && extra == "--")
      after_end = true;
    else if (!after_end && extra.size() >= 2 && extra[0] == '-')
      unknown_options.push_back(extra);
    else
      strays.push_back(extra);
  }
  if (!unknown_options.empty()) {
    std::string_view name = unknown_options.front();
    name = name.substr(0, name.find('='));
    // The candidates are the long names of the options CLI11 was given, nothing retyped.
    std::vector<std::string> known;
    for (const CLI::Option* option : app.get_options()) {
      for (const std::string& long_name : option->get_lnames()) known.push_back(long_name);
    }
    const std::vector<std::string_view> candidates(known.begin(), known.end());
    std::string_view bare = name;
    while (!bare.empty() && bare.front() == '-') bare.remove_prefix(1);
    const std::string_view close = closest_match(bare, candidates);
    return usage_error("unknown option " + in_quotes(name),
                       close.empty() ? "see parkway --help for the options"
                                     : "did you mean --" + std::string(close) + "?");
  }
  // `parkway status`: the one subcommand.
  const bool status = !strays.empty() && strays.front() == "status";
  if (status) strays.erase(strays.begin());
  if (!strays.empty()) {
    std::string hint = "parkway takes options only, such as -c FILE or -L 8080=HOST:PORT";
    if (const std::string meant = from_ssh_form(strays.front()); !meant.empty())
      hint = "did you mean -L " + meant + "?";
    return usage_error("unexpected argument " + in_quotes(strays.front()), hint);
  }

  const bool have_forwards = !forward_specs.empty();
  if (status && (have_forwards || check_config || print_config)) {
    return usage_error("status does not go with -L, --check-config or --print-config",
                       "parkway status [--admin ADDR | -c FILE]");
  }
  if (have_forwards && config_option->count() > 0) {
    return usage_error("-c/--config and -L/--forward do not go together",
                       "run either from a config file or from forwards");
  }
  if (check_config && print_config) {
    return usage_error("--check-config and --print-config do not go together", "use one of them");
  }

  for (const KeyFlag& flag : key_flags) {
    if (flag.option->count() == 0) continue;
    if (flag.use == FlagUse::forward && !have_forwards) {
      return usage_error(flag.flag + " applies to -L forwards only",
                         "with a config file, set " + std::string(flag.key) + " in its [[" +
                             std::string(flag.section) + "]] tables instead");
    }
    std::string value = last_value(flag.option);
    if (flag.type == "destination") value = absolute_destination(value);
    if (const std::string problem = check_setting(flag.section, flag.key, value);
        !problem.empty()) {
      return usage_error(flag.flag + " " + in_quotes(last_value(flag.option)) + ": " + problem);
    }
    out.settings.push_back(FlagSetting{flag.flag, flag.section, flag.key, value});
  }

  for (const std::string& spec : forward_specs) {
    Parsed<Forward> forward = parse_forward(spec);
    if (!forward.ok()) {
      return usage_error("-L " + in_quotes(spec) + ": " + forward.expected(), forward.hint());
    }
    out.forwards.push_back(std::move(forward.value()));
  }
  if (have_forwards) {
    ForwardsConfig made = config_from_forwards(out.forwards);
    apply_settings(out.settings, made.config);
    for (const Diagnostic& diagnostic : validate(made.config)) {
      if (diagnostic.severity != Severity::error) continue;
      return usage_error("-L " + in_quotes(forward_of(diagnostic.key_path, made, out.forwards)) +
                         ": " + diagnostic.message);
    }
  }

  out.config_path = config_path;
  out.config_given = config_option->count() > 0;
  out.action = status         ? Action::status
               : check_config ? Action::check_config
               : print_config ? Action::print_config
                              : Action::run;
  return out;
}

LoadResult load(const CommandLine& command_line, bool ipv6_loopback) {
  LoadResult result;
  if (!command_line.forwards.empty()) {
    Config config = config_from_forwards(command_line.forwards, ipv6_loopback).config;
    apply_settings(command_line.settings, config);
    result.diagnostics = validate(config);
    if (!has_errors(result.diagnostics)) result.config = std::move(config);
    return result;
  }
  result = load_file(command_line.config_path);
  if (result.config) apply_settings(command_line.settings, *result.config);
  // Started without arguments where parkway is not set up (yet): say what would work.
  std::error_code error;
  if (!result.ok() && !command_line.config_given && result.diagnostics.size() == 1 &&
      !std::filesystem::exists(command_line.config_path, error) && !error) {
    result.diagnostics.front().message += "; " + std::string(no_config_hint);
  }
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
