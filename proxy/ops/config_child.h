// Reading the config file for a reload in a child process, so that no input can take the
// serving process down.
//
// The file is checked by the bounds of conf/limits.h before any parser sees it, which
// keeps every known recursion of toml++ shallow. That is not a proof that no input
// crashes a parser we did not write, so a reload reads the file in a child: the running
// binary (/proc/self/exe, the file it was started from even after a package replaced it)
// with `--print-config -c FILE`. Whatever the file does to the child (a crash, a hang, a
// FIFO that never ends, a parse that takes minutes), the serving process only sees its
// exit status and output, within `timeout`, after which the child is killed. The child
// prints the checked config in parkway's own canonical TOML (conf/emit.h: two levels
// deep, every key known), and that is all the serving process parses: text it generated
// itself from a config that was already valid.
//
// Only if the child cannot be started at all (no /proc, say) does the serving process
// read the file itself, on a thread of its own, and it logs that it does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conf/cli.h"
#include "scheduler/time.h"

namespace parkway::proxy {

struct ChildLoad {
  // Present when the file was valid: the config, with the command line's flags applied.
  std::optional<conf::Config> config;
  // What the check said, formatted (conf::format), one element per line: errors and
  // warnings with their echoed lines and carets.
  std::vector<std::string> diagnostics;
  // Why there is no answer (the child crashed, timed out, could not start), if so.
  std::string failure;
};

// Reads `command_line.config_path` for a reload. Call from a goroutine; it parks, and
// never waits longer than `timeout` (plus the time to kill and reap the child).
ChildLoad load_config_in_child(const conf::CommandLine& command_line, Duration timeout);

// Kills the check under way, if any: for the exit paths, so that no child is left behind.
// Callable from any thread.
void kill_config_child();

}  // namespace parkway::proxy
