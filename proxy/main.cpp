// parkway: the binary. Reads the command line (conf/cli.h), loads the configuration,
// then runs the Server (proxy/server.h) as the main goroutine of the runtime.
#include <cstdio>
#include <cstdlib>

#include "conf/cli.h"
#include "conf/diagnostic.h"
#include "conf/emit.h"
#include "proxy/access_log.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/signals.h"
#include "scheduler/runtime.h"

int main(int argc, char** argv) {
  using namespace parkway;
  // Before any thread exists, so that only the signal thread ever receives them.
  proxy::block_signals();

  conf::CommandLine command_line = conf::parse_command_line(argc, argv);
  switch (command_line.action) {
    case conf::Action::help:
    case conf::Action::version:
      std::fputs(command_line.text.c_str(), stdout);
      return command_line.exit_code;
    case conf::Action::usage_error:
      std::fputs(command_line.text.c_str(), stderr);
      return command_line.exit_code;
    case conf::Action::run:
    case conf::Action::check_config:
    case conf::Action::print_config:
      break;
  }

  conf::LoadResult loaded = conf::load(command_line);
  if (!loaded.diagnostics.empty()) std::fputs(conf::format(loaded.diagnostics).c_str(), stderr);
  if (!loaded.ok()) return 1;
  conf::Config config = std::move(*loaded.config);

  if (command_line.action == conf::Action::check_config) {
    std::printf("%s: valid: %zu listener(s), %zu cluster(s)\n", config.source.c_str(),
                config.listeners.size(), config.clusters.size());
    return 0;
  }
  if (command_line.action == conf::Action::print_config) {
    std::fputs(conf::to_toml(config).c_str(), stdout);
    return 0;
  }

  proxy::log::init(config.runtime.log_level);
  // $PARKWAY_MEASURE_STACKS=1: find how deep goroutine stacks go (slow; for tests and
  // diagnosis), reported at exit.
  const char* measure = std::getenv("PARKWAY_MEASURE_STACKS");
  const bool measure_stacks = measure != nullptr && measure[0] != '\0' && measure[0] != '0';
  int code;
  {
    Runtime runtime({.procs = config.runtime.procs, .measure_stacks = measure_stacks});
    code = runtime.run([&] {
      proxy::Server server(std::move(command_line), std::move(config));
      return server.run();
    });
    if (measure_stacks) {
      const RuntimeStats st = runtime_stats();
      log_info("deepest goroutine stack: ", st.max_stack_used, " bytes of ", st.stack_size);
    }
  }
  proxy::access_log::shutdown();
  proxy::log::shutdown();
  return code;
}
