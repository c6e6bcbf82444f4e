#include "proxy/ops/config_child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <sstream>
#include <thread>

#include "conf/diagnostic.h"
#include "conf/limits.h"
#include "conf/parse.h"
#include "netpoll/fd.h"
#include "proxy/log/log.h"
#include "proxy/ops/signals.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

extern char** environ;

namespace parkway::proxy {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxConfigOutput = 4 * conf::max_file_bytes;  // canonical TOML of a big file
constexpr size_t kMaxDiagnosticOutput = 1 << 20;

// The child being waited for, so that an exit (a drain, a forced stop) kills it instead
// of leaving it behind.
std::atomic<pid_t> current_child{0};
// Set once the process is on its way out: a check started after that is killed at once.
std::atomic<bool> exiting{false};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Reads `fd` to its end (or `limit` bytes, or `deadline`). Returns the error that stopped
// it early, if any.
std::error_code read_all(net::FD& fd, Time deadline, size_t limit, std::string* out) {
  fd.set_read_deadline(deadline);
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    const net::IoResult r = fd.read(buf);
    if (r.error) return r.error;
    if (r.bytes == 0) return {};
    out->append(reinterpret_cast<const char*>(buf.data()), r.bytes);
    if (out->size() > limit) return std::make_error_code(std::errc::file_too_large);
  }
}

// Runs fn() on a thread of its own and parks until it returns: toml++ and the checks need
// more stack than a goroutine has (a reload on the goroutine once overflowed it).
template <class F>
auto on_a_thread(F fn) {
  decltype(fn()) result;
  Notification done;
  std::thread thread([&] {
    result = fn();
    done.notify();
  });
  done.wait();
  thread.join();
  return result;
}

// The check in this process, for when no child can be started.
ChildLoad load_here(const conf::CommandLine& command_line) {
  conf::LoadResult result = on_a_thread([&] { return conf::load(command_line); });
  ChildLoad out;
  out.config = std::move(result.config);
  for (const auto& d : result.diagnostics) {
    for (auto& line : split_lines(conf::format(d))) out.diagnostics.push_back(std::move(line));
  }
  return out;
}

}  // namespace

void kill_config_child() {
  exiting.store(true);
  const pid_t pid = current_child.load();
  if (pid > 0) ::kill(pid, SIGKILL);
}

ChildLoad load_config_in_child(const conf::CommandLine& command_line, Duration timeout) {
  ChildLoad out;
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
    out.failure = std::string("cannot create a pipe to check the config: ") + std::strerror(e);
    return out;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with no signal blocked and SIGPIPE at its default, whatever this
  // process has (it blocks the stop signals for its signal thread, ignores SIGPIPE).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string path = command_line.config_path;
  char arg0[] = "parkway";
  char arg1[] = "--print-config";
  char arg2[] = "-c";
  char* argv[] = {arg0, arg1, arg2, path.data(), nullptr};
  pid_t pid = -1;
  // The child learns whose check it is, to die with it (PR_SET_PDEATHSIG, proxy/main.cpp).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("PARKWAY_CHECK_FOR=")) continue;
    env_strings.emplace_back(*e);
  }
  env_strings.push_back("PARKWAY_CHECK_FOR=" + std::to_string(::getpid()));
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  const int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    log_warn("reload: cannot start a process to check the config (/proc/self/exe: ",
             std::strerror(spawned), "); checking it in this process instead");
    return load_here(command_line);
  }
  current_child.store(pid);
  // An exit that looked for a child before it was recorded: it is this one. (The child also
  // dies with this process: PR_SET_PDEATHSIG, proxy/main.cpp.)
  if (exiting.load()) ::kill(pid, SIGKILL);

  // Both outputs are read at once: a child blocked on a full pipe would never exit.
  const Time deadline = deadline_after(timeout);
  std::string config_text, diagnostic_text;
  std::error_code out_error, err_error;
  for (int fd : {out_pipe[0], err_pipe[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  auto out_fd = net::FD::open(out_pipe[0]);
  auto err_fd = net::FD::open(err_pipe[0]);
  if (out_fd && err_fd) {
    WaitGroup stderr_read;
    stderr_read.add(1);
    go([&] {
      err_error = read_all(**err_fd, deadline, kMaxDiagnosticOutput, &diagnostic_text);
      stderr_read.done();
    });
    out_error = read_all(**out_fd, deadline, kMaxConfigOutput, &config_text);
    stderr_read.wait();
  } else {
    out_error = !out_fd ? out_fd.error() : err_fd.error();
  }

  // Its outputs are closed: it is exiting. Reap it, within the deadline.
  int status = 0;
  bool exited = false;
  while (!out_error && !err_error && now() < deadline) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      exited = true;
      break;
    }
    sleep_for(2ms);  // waiting for a process that nothing announces
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  current_child.store(0);

  out.diagnostics = split_lines(diagnostic_text);
  if (!exited) {
    out.failure = net::is_timeout(out_error) || net::is_timeout(err_error) || !out_error
                      ? "checking the config took longer than " +
                            std::to_string(
                                std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                            "s (a file on a hung filesystem?); the check was killed"
                      : "reading the check's output failed: " +
                            (out_error ? out_error : err_error).message() +
                            "; the check was killed";
    return out;
  }
  if (WIFSIGNALED(status)) {
    out.failure = "the config check crashed (" + signal_name(WTERMSIG(status)) +
                  "); this process is unaffected";
    return out;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 1) return out;  // invalid: the diagnostics say why
  if (code != 0) {
    out.failure = "the config check exited with status " + std::to_string(code);
    return out;
  }
  // Valid: the child printed the config in canonical TOML, which is all we parse.
  conf::LoadResult canonical =
      on_a_thread([&] { return conf::load_string(config_text, command_line.config_path); });
  if (!canonical.ok()) {
    out.failure = "the checked config did not read back (a bug): " +
                  (canonical.diagnostics.empty() ? std::string("no diagnostic")
                                                 : canonical.diagnostics[0].message);
    return out;
  }
  conf::apply_settings(command_line.settings, *canonical.config);
  out.config = std::move(canonical.config);
  return out;
}

}  // namespace parkway::proxy
