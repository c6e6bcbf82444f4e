// parkway: the binary. Reads the command line (conf/cli.h), loads the configuration,
// prepares the process (the open-files limit), then runs the Server (proxy/server.h) as
// the main goroutine of the runtime.
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conf/cli.h"
#include "conf/diagnostic.h"
#include "conf/emit.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log.h"
#include "proxy/ops/fault.h"
#include "proxy/ops/signals.h"
#include "proxy/ops/status.h"
#include "proxy/server.h"
#include "scheduler/channel.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

// The process that checks a config for a reload (`--print-config`,
// proxy/ops/config_child.h): it dies with the process it checks for; and fault injection
// (proxy/ops/fault.h): "crash-check" crashes it,
// "hang-check" makes it hang, as a parser bug on some input would. The serving process must
// not be affected either way.
void prepare_config_check() {
  // A check for a reload (proxy/ops/config_child.h) dies with the process it checks for,
  // whatever becomes of that one: it must never outlive it.
  if (const char* parent = std::getenv("PARKWAY_CHECK_FOR")) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (std::to_string(::getppid()) != parent) std::_Exit(3);  // it is gone already
  }
  if (fault("crash-check")) std::abort();
  if (fault("hang-check")) {
    for (;;) pause();
  }
}

}  // namespace parkway::proxy

namespace {

using namespace parkway;

// Whether this host can bind its IPv6 loopback address, ::1. It cannot where IPv6 is
// disabled (ipv6.disable=1, disable_ipv6 on lo, many containers): a port alone given to
// -L then binds 127.0.0.1 only, instead of failing to start.
bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

// Raises the soft limit on open files to the hard limit, as Go's runtime does since Go 1.19:
// the soft limit of 1024 that most sessions start with is kept for programs that use
// select(2), which parkway does not. (How the limit is then shared out, and the warning
// when it holds fewer connections than the listeners allow: proxy/descriptor_budget.h.)
void raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      log_info("open files: raised the limit from ", before, " to ", limit.rlim_cur,
               " (the hard limit)");
    } else {
      limit.rlim_cur = before;
    }
  }
}

// Where the access log goes, said once at start: with -L it is off unless asked for, and a
// relative --access-log was made absolute; either would otherwise go unnoticed.
void log_access_log_destination(const conf::Config& config, const conf::CommandLine& command_line) {
  const conf::LogDestination& destination = config.access_log.destination;
  switch (destination.kind) {
    case conf::LogDestination::Kind::file:
      log_info("access log: writing to ", destination.path);
      break;
    case conf::LogDestination::Kind::stderr_stream: log_info("access log: on stderr"); break;
    case conf::LogDestination::Kind::off:
      if (command_line.forwards.empty()) {
        log_info("access log: off");
      } else {
        log_info(
            "access log: off (--access-log stderr or --access-log FILE records each "
            "connection)");
      }
      break;
  }
}

}  // namespace

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
    case conf::Action::status: return proxy::run_status(command_line);
    case conf::Action::run:
    case conf::Action::check_config:
    case conf::Action::print_config: break;
  }

  if (command_line.action == conf::Action::print_config) proxy::prepare_config_check();

  // Probed only when a forward would bind it.
  bool ipv6_loopback = true;
  for (const conf::Forward& forward : command_line.forwards)
    if (forward.ipv6_loopback_too) ipv6_loopback = ipv6_loopback_available();
  conf::LoadResult loaded = conf::load(command_line, ipv6_loopback);
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
  if (!ipv6_loopback) {
    for (const conf::Forward& forward : command_line.forwards) {
      if (forward.ipv6_loopback_too) {
        log_warn("-L ", forward.spec, ": this host has no IPv6 loopback (::1); listening on ",
                 forward.listen.to_string(), " only");
      }
    }
  }
  raise_open_files_limit();
  log_access_log_destination(config, command_line);
  // $PARKWAY_MEASURE_STACKS=1: find how deep goroutine stacks go (slow; for tests and
  // diagnosis), reported at exit.
  const char* measure = std::getenv("PARKWAY_MEASURE_STACKS");
  const bool measure_stacks = measure != nullptr && measure[0] != '\0' && measure[0] != '0';
  int code;
  // Signals arrive on a thread of their own from now on, and a second stop signal (or a
  // drain that overstays) ends the process from there: made before the runtime and
  // destroyed after it, it also ends a process that hangs on its way out.
  Channel<int> events(16);
  proxy::SignalThread signals(events);
  {
    Runtime runtime({.procs = config.runtime.procs, .measure_stacks = measure_stacks});
    code = runtime.run([&] {
      proxy::Server server(std::move(command_line), std::move(config), events, signals);
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
