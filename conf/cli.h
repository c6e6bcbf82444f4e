// The command line: what `parkway ARGS...` asks main() to do, and the Config it runs with.
//
//   parkway [-c FILE] [--check-config | --print-config] [--procs N] [--log-level L] ...
//   parkway -L LISTEN=UPSTREAM[,UPSTREAM...] [-L ...] [--balance B] [--connect-timeout D] ...
//
// Either a config file (default /etc/parkway/parkway.toml) or forwards (conf/forward.h),
// never both. The flags are generated from the key table (conf/keys.h): runtime keys
// (--procs, --log-level, --drain-timeout) override the file or apply to the forwards;
// listener and cluster keys (--connect-timeout, --balance, ...) apply to every forward and
// are a usage error with a file, where they belong in its tables. Values are read by the
// same functions as in TOML (conf/value.h), so a bad value is explained the same way.
// Two flags read their value for a command line: --access-log takes a path relative to the
// working directory (made absolute here), --admin a port alone (127.0.0.1:PORT, as in the
// file). With -L, keys take their forwards defaults (the access log is off).
//
// Usage errors are ONE line, "parkway: <what was wrong>: <what is accepted>", exit code 2.
//
//   CommandLine command_line = parse_command_line(argc, argv);
//   if (command_line.action is help, version or usage_error) print text, exit(exit_code)
//   LoadResult result = load(command_line);   // then print diagnostics, run, check, print
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/forward.h"
#include "conf/parse.h"

namespace parkway::conf {

inline constexpr std::string_view default_config_path = "/etc/parkway/parkway.toml";

enum class Action {
  run,           // load the config and serve
  check_config,  // load the config, print its diagnostics; exit 0 when valid, 1 when not
  print_config,  // load the config and print to_toml() of it (conf/emit.h)
  status,        // `parkway status`: print a running instance's /clusters?format=text
  help,          // print text to stdout, exit 0
  version,       // print text to stdout, exit 0
  usage_error,   // print text to stderr, exit exit_code (2)
};

// A key set by a flag, such as --connect-timeout 2s. The value has been checked.
struct FlagSetting {
  std::string flag;          // "--connect-timeout"
  std::string_view section;  // "cluster", as in conf/keys.h
  std::string_view key;      // "connect_timeout"
  std::string value;         // "2s"

  bool operator==(const FlagSetting&) const = default;
};

struct CommandLine {
  Action action = Action::run;
  std::string config_path{default_config_path};  // ignored when there are forwards
  bool config_given = false;                     // -c was given (else the default path)
  std::vector<Forward> forwards;                 // -L, in order
  std::vector<FlagSetting> settings;             // key flags, in order; a later one wins
  // help: the help text; version: "parkway X.Y.Z\n"; usage_error: the one line, with '\n'.
  std::string text;
  int exit_code = 0;  // 2 for usage_error, else 0
};

CommandLine parse_command_line(int argc, const char* const* argv);

// The Config of a command line whose action is run, check_config or print_config: the
// forwards, or the config file, with the flag settings applied. For a file, diagnostics
// come from the file (a missing default file also says how to start otherwise); for
// forwards, parse_command_line has already checked them. ipv6_loopback: whether this host
// has ::1, for the forwards of a port alone (conf/forward.h).
LoadResult load(const CommandLine& command_line, bool ipv6_loopback = true);

// Sets each key named by `settings` in `config`: a [runtime] key once, a [[listener]] or
// [[cluster]] key in every listener or cluster.
void apply_settings(const std::vector<FlagSetting>& settings, Config& config);

}  // namespace parkway::conf
