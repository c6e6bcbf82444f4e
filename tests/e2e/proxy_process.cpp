#include "tests/e2e/proxy_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/e2e/time_scale.h"

extern char** environ;

namespace parkway::e2e {

// ---- TempDir ------------------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/parkway-e2e-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string p = path_ + "/" + name;
  // Write a sibling and rename it into place: a reload never reads a half-written file.
  const std::string tmp = p + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
    if (!f.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), p.c_str()) != 0) {
    throw std::runtime_error("rename " + tmp + ": " + std::strerror(errno));
  }
  return p;
}

// ---- SpawnError ---------------------------------------------------------------------------

SpawnError::SpawnError(const std::string& step_, int err_)
    : std::runtime_error("cannot start parkway: " + step_ + ": " + std::strerror(err_)),
      step(step_),
      err(err_) {}

// ---- ProxyProcess -------------------------------------------------------------------------

namespace {

// What the child reports through the close-on-exec error pipe when a step before exec
// fails. Nothing arrives when exec succeeds (the pipe closes with the exec).
enum class Step : int {
  setup = 1,
  unshare,
  make_private,
  bind_hosts,
  hide_etc_parkway,
  rlimit,
  chdir,
  exec
};

const char* step_name(Step s) {
  switch (s) {
    case Step::setup: return "child setup";
    case Step::unshare: return "unshare(CLONE_NEWNS)";
    case Step::make_private: return "mount --make-rprivate /";
    case Step::bind_hosts: return "bind-mount over /etc/hosts";
    case Step::hide_etc_parkway: return "mount a tmpfs over /etc/parkway";
    case Step::rlimit: return "setrlimit(RLIMIT_NOFILE)";
    case Step::chdir: return "chdir";
    case Step::exec: return "exec";
  }
  return "?";
}

}  // namespace

std::string regex_escape(const std::string& s) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

struct ProxyProcess::Shared {
  std::mutex mu;  // held briefly, never across a wait
  std::string out, err, partial;
  std::vector<std::string> lines;
  bool exited = false;
  int exit_code = -1;
  std::vector<std::shared_ptr<Notification>> waiters;

  // Registers a waiter for the next change (a line, or the exit). Call with mu held.
  std::shared_ptr<Notification> next_change() {
    auto n = std::make_shared<Notification>();
    waiters.push_back(n);
    return n;
  }
  // Wakes every waiter. Call with mu held (Notification::notify never blocks).
  void changed() {
    for (auto& w : waiters) w->notify();
    waiters.clear();
  }
};

ProxyProcess::ProxyProcess(std::vector<std::string> args, SpawnOptions options, std::string binary)
    : shared_(std::make_shared<Shared>()) {
  if (binary.empty()) {
    const char* override_binary = std::getenv("PARKWAY_E2E_BINARY");
    binary = override_binary && *override_binary ? override_binary : PARKWAY_BINARY;
  }
  // Everything the child needs is prepared here: between fork and exec it may only make
  // async-signal-safe calls (the test process has many threads).
  std::vector<std::string> argv_store;
  argv_store.push_back(binary);
  for (auto& a : args) argv_store.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; e++) {
    // The log must not think stderr is the journal, nor inherit someone's activation.
    if (std::strncmp(*e, "JOURNAL_STREAM=", 15) != 0 && std::strncmp(*e, "LISTEN_", 7) != 0 &&
        std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 && std::strncmp(*e, "WATCHDOG_", 9) != 0) {
      envp.push_back(*e);
    }
  }
  std::vector<std::string> env_store = options.env;
  // LISTEN_PID is the child's own pid: written into this buffer after fork.
  char listen_pid[32] = "LISTEN_PID=";
  if (!options.listen_fds.empty()) {
    env_store.push_back("LISTEN_FDS=" + std::to_string(options.listen_fds.size()));
    std::string names;
    for (const auto& n : options.listen_fdnames) names += (names.empty() ? "" : ":") + n;
    env_store.push_back("LISTEN_FDNAMES=" + names);
  }
  for (auto& e : env_store) envp.push_back(e.data());
  if (!options.listen_fds.empty()) envp.push_back(listen_pid);
  envp.push_back(nullptr);
  const std::vector<int> listen_fds = options.listen_fds;
  const char* hosts =
      options.private_hosts_file.empty() ? nullptr : options.private_hosts_file.c_str();
  const char* resolv =
      options.private_resolv_conf.empty() ? nullptr : options.private_resolv_conf.c_str();
  const bool set_nofile = options.rlimit_nofile.has_value();
  const rlimit nofile{options.rlimit_nofile_soft.value_or(options.rlimit_nofile.value_or(0)),
                      options.rlimit_nofile.value_or(0)};
  const bool hide_etc_parkway = options.hide_etc_parkway;
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  int out_pipe[2], err_pipe[2], status_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw SpawnError("pipe2", errno);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw SpawnError("pipe2", errno);
  if (pipe2(status_pipe, O_CLOEXEC) != 0) throw SpawnError("pipe2", errno);
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  const pid_t pid = fork();
  if (pid < 0) throw SpawnError("fork", errno);
  if (pid == 0) {
    auto fail = [&](Step step) {
      const int report[2] = {static_cast<int>(step), errno};
      ssize_t ignored = ::write(status_pipe[1], report, sizeof report);
      (void)ignored;
      _exit(127);
    };
    setpgid(0, 0);
    if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
        dup2(err_pipe[1], STDERR_FILENO) < 0) {
      fail(Step::setup);
    }
    // The test process ignores SIGPIPE (the netpoller does) and its threads may block
    // signals: the binary starts as it would from a shell.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Descriptors the test process opened without O_CLOEXEC must not leak into it.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (!listen_fds.empty()) {
      // Move them out of the way first (a source may sit on a target number), then down
      // to 3, 4, ... without close-on-exec.
      int moved[64];
      const size_t n = listen_fds.size() < 64 ? listen_fds.size() : 64;
      for (size_t i = 0; i < n; i++) {
        moved[i] = fcntl(listen_fds[i], F_DUPFD_CLOEXEC, 100);
        if (moved[i] < 0) fail(Step::setup);
      }
      for (size_t i = 0; i < n; i++) {
        if (dup2(moved[i], 3 + static_cast<int>(i)) < 0) fail(Step::setup);
      }
      // LISTEN_PID=<our pid>, formatted without allocating.
      char digits[16];
      int len = 0;
      for (pid_t v = getpid(); v > 0; v /= 10) digits[len++] = static_cast<char>('0' + v % 10);
      char* out = listen_pid + 11;
      while (len > 0) *out++ = digits[--len];
      *out = '\0';
    }
    if (hosts || hide_etc_parkway) {
      if (unshare(CLONE_NEWNS) != 0) fail(Step::unshare);
      if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(Step::make_private);
    }
    if (hosts) {
      if (mount(hosts, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) fail(Step::bind_hosts);
      if (resolv && mount(resolv, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
        fail(Step::bind_hosts);
      }
    }
    if (hide_etc_parkway &&
        mount("tmpfs", "/etc/parkway", "tmpfs", MS_NOSUID | MS_NODEV, nullptr) != 0) {
      fail(Step::hide_etc_parkway);
    }
    if (cwd && chdir(cwd) != 0) fail(Step::chdir);
    // Last: the steps above may need descriptors of their own.
    if (set_nofile && setrlimit(RLIMIT_NOFILE, &nofile) != 0) fail(Step::rlimit);
    execve(argv[0], argv.data(), envp.data());
    fail(Step::exec);
  }
  // Both sides set the group, so that it exists whichever runs first.
  setpgid(pid, pid);
  ::close(devnull);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(status_pipe[1]);
  pid_ = pid;
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];

  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(status_pipe[0], report, sizeof report);
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (n > 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(out_fd_);
    ::close(err_fd_);
    throw SpawnError(step_name(static_cast<Step>(report[0])), report[1]);
  }
  reader_ = std::thread([this] { reader(); });
}

ProxyProcess::~ProxyProcess() {
  bool exited;
  {
    std::lock_guard<std::mutex> g(shared_->mu);
    exited = shared_->exited;
  }
  if (!exited) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
  if (reader_.joinable()) reader_.join();
  ::close(out_fd_);
  ::close(err_fd_);
}

// Collects stdout and stderr until both end, then reaps the child.
void ProxyProcess::reader() {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        open--;
        continue;
      }
      std::lock_guard<std::mutex> g(shared_->mu);
      if (i == 0) {
        shared_->out.append(buf, static_cast<size_t>(n));
        continue;
      }
      shared_->err.append(buf, static_cast<size_t>(n));
      shared_->partial.append(buf, static_cast<size_t>(n));
      size_t start = 0, nl;
      bool any = false;
      while ((nl = shared_->partial.find('\n', start)) != std::string::npos) {
        shared_->lines.push_back(shared_->partial.substr(start, nl - start));
        start = nl + 1;
        any = true;
      }
      shared_->partial.erase(0, start);
      if (any) shared_->changed();
    }
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  std::lock_guard<std::mutex> g(shared_->mu);
  if (!shared_->partial.empty()) shared_->lines.push_back(std::move(shared_->partial));
  shared_->partial.clear();
  shared_->exited = true;
  shared_->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  shared_->changed();
}

namespace {

// Runs fn() where std::regex may recurse deep: libstdc++'s matcher recurses once per
// character of `.*`, and a 300-character log line overflows a goroutine's 64 KiB stack.
// From a goroutine, fn runs on a thread of its own (which blocks this goroutine's thread
// for the moment it takes; these are tests).
template <class F>
void off_goroutine_stack(F fn) {
  if (!in_goroutine()) {
    fn();
    return;
  }
  std::thread t(fn);
  t.join();
}

// The lines of [from, lines.size()) that match, up to `limit` of them.
void match_lines(const std::vector<std::string>& lines, size_t* from, const std::regex& pattern,
                 size_t limit, std::vector<LogMatch>* found) {
  off_goroutine_stack([&] {
    for (; *from < lines.size() && found->size() < limit; ++*from) {
      std::smatch m;
      if (std::regex_search(lines[*from], m, pattern)) {
        LogMatch lm{*from, lines[*from], {}};
        for (const auto& sub : m) lm.groups.push_back(sub.str());
        found->push_back(std::move(lm));
      }
    }
  });
}

}  // namespace

std::vector<LogMatch> ProxyProcess::wait_for_log_count(const std::string& re, size_t count,
                                                       std::chrono::milliseconds timeout,
                                                       size_t from) {
  const std::regex pattern(re);
  const Time deadline = now() + scaled(timeout);
  std::vector<LogMatch> found;
  size_t scanned = from;
  for (;;) {
    std::shared_ptr<Notification> change;
    {
      std::lock_guard<std::mutex> g(shared_->mu);
      match_lines(shared_->lines, &scanned, pattern, count, &found);
      if (found.size() >= count || shared_->exited) return found;
      change = shared_->next_change();
    }
    if (!change->wait_until(deadline)) return found;
  }
}

std::optional<LogMatch> ProxyProcess::wait_for_log(const std::string& re,
                                                   std::chrono::milliseconds timeout, size_t from) {
  auto found = wait_for_log_count(re, 1, timeout, from);
  if (found.empty()) return std::nullopt;
  return std::move(found[0]);
}

size_t ProxyProcess::mark() const {
  std::lock_guard<std::mutex> g(shared_->mu);
  return shared_->lines.size();
}

std::vector<LogMatch> ProxyProcess::find_all(const std::string& re, size_t from) const {
  const std::regex pattern(re);
  std::vector<LogMatch> found;
  std::lock_guard<std::mutex> g(shared_->mu);
  size_t scanned = from;
  match_lines(shared_->lines, &scanned, pattern, SIZE_MAX, &found);
  return found;
}

uint16_t ProxyProcess::port_of(const std::string& name) const {
  auto all = find_all("listener \"" + regex_escape(name) +
                      "\": (?:added, |updated, )?listening on (\\S+):([0-9]+) -> cluster");
  if (all.empty()) return 0;
  return static_cast<uint16_t>(std::stoi(all.back()[2]));
}

net::SocketAddress ProxyProcess::address_of(const std::string& name) const {
  auto all = find_all("listener \"" + regex_escape(name) +
                      "\": (?:added, |updated, )?listening on (\\S+) -> cluster");
  if (all.empty()) throw std::runtime_error("no listening line for listener " + name);
  auto a = net::SocketAddress::parse(all.back()[1]);
  if (!a) throw std::runtime_error("cannot parse the address in: " + all.back().line);
  return *a;
}

void ProxyProcess::signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> ProxyProcess::wait_exit(std::chrono::milliseconds timeout) {
  const Time deadline = now() + scaled(timeout);
  for (;;) {
    std::shared_ptr<Notification> change;
    {
      std::lock_guard<std::mutex> g(shared_->mu);
      if (shared_->exited) return shared_->exit_code;
      change = shared_->next_change();
    }
    if (!change->wait_until(deadline)) return std::nullopt;
  }
}

std::string ProxyProcess::stdout_text() const {
  std::lock_guard<std::mutex> g(shared_->mu);
  return shared_->out;
}

std::string ProxyProcess::stderr_text() const {
  std::lock_guard<std::mutex> g(shared_->mu);
  return shared_->err;
}

std::vector<std::string> ProxyProcess::lines() const {
  std::lock_guard<std::mutex> g(shared_->mu);
  return shared_->lines;
}

Completed run_parkway(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  return run_parkway(std::move(args), SpawnOptions{}, timeout);
}

Completed run_parkway(std::vector<std::string> args, SpawnOptions options,
                      std::chrono::milliseconds timeout) {
  ProxyProcess p(std::move(args), std::move(options));
  Completed c;
  auto code = p.wait_exit(timeout);
  c.exit_code = code ? *code : -1;  // -1: still running; the destructor kills it
  c.out = p.stdout_text();
  c.err = p.stderr_text();
  return c;
}

}  // namespace parkway::e2e
