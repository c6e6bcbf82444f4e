// The end-to-end harness: the real `parkway` binary as a child process, and its log.
//
//   TempDir dir;                                      // removed with everything in it
//   ProxyProcess proxy({"-c", dir.write("p.toml", toml), "--log-level", "debug"});
//   proxy.wait_for_log("ready: accepting connections");
//   uint16_t port = proxy.port_of("app");             // from "listener "app": listening on"
//   ... traffic ...
//   proxy.signal(SIGTERM);
//   CHECK(proxy.wait_exit(5s) == 0);
//
// The child is started with fork+exec in a process group of its own; a reader thread
// collects its stdout and stderr (the log) and reaps it when both end. Waiting on the log
// or on the exit is done with parkway's Notification, so it works from the test's thread
// and from goroutines alike (a goroutine parks; a plain thread sleeps on a futex): tests
// await log lines, they never sleep and hope. The destructor kills the whole process group
// with SIGKILL, so a failed REQUIRE leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netpoll/address.h"

namespace parkway::e2e {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/name (replacing it) and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct SpawnOptions {
  // When set: the child enters a mount namespace of its own (unshare(CLONE_NEWNS)), makes
  // "/" rprivate and bind-mounts this file over /etc/hosts before exec, so that DNS names
  // resolve through it without touching the machine's /etc/hosts. Needs CAP_SYS_ADMIN.
  std::string private_hosts_file;
  // With private_hosts_file: also bind-mount this file over /etc/resolv.conf (say, a
  // nameserver on a loopback port where nothing listens, so that names missing from the
  // hosts file fail at once instead of waiting on a real DNS server).
  std::string private_resolv_conf;
  // Extra environment variables, "NAME=value".
  std::vector<std::string> env;
  // Socket activation as systemd does it: these descriptors become fds 3, 4, ... of the
  // child, with LISTEN_FDS, LISTEN_FDNAMES (these names, ':'-joined) and LISTEN_PID set
  // to the child's pid.
  std::vector<int> listen_fds;
  std::vector<std::string> listen_fdnames;
  // When set: RLIMIT_NOFILE of the child (soft and hard, both), set just before exec, so
  // that a test can run parkway out of descriptors without lowering its own limit.
  std::optional<unsigned long> rlimit_nofile;
  // With rlimit_nofile: a lower soft limit, rlimit_nofile being the hard one.
  std::optional<unsigned long> rlimit_nofile_soft;
  // When set: the child's working directory.
  std::string cwd;
  // The child enters a mount namespace of its own with an empty tmpfs over /etc/parkway,
  // so that it finds no installed config file. Needs CAP_SYS_ADMIN.
  bool hide_etc_parkway = false;
};

// The child could not be started; `err` is the errno of the step that failed.
class SpawnError : public std::runtime_error {
 public:
  SpawnError(const std::string& step, int err);
  const std::string step;
  const int err;
};

struct LogMatch {
  size_t index = 0;                 // line number in lines(), from 0
  std::string line;                 // the whole line
  std::vector<std::string> groups;  // [0] the match, [1..] its groups
  const std::string& operator[](size_t i) const { return groups.at(i); }
};

class ProxyProcess {
 public:
  // Starts `binary` with `args`; by default $PARKWAY_E2E_BINARY if set (to run the suite
  // against another build), else the binary built with the suite. Throws SpawnError.
  explicit ProxyProcess(std::vector<std::string> args, SpawnOptions options = {},
                        std::string binary = {});
  ~ProxyProcess();
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The first line of stderr at or after line `from` that matches `re` (regex_search),
  // waiting up to `timeout` (times time_scale(), see time_scale.h) for it to be written.
  // std::nullopt on timeout, or once the process has exited without writing it.
  std::optional<LogMatch> wait_for_log(const std::string& re,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                       size_t from = 0);
  // Waits until at least `count` lines from `from` on match `re`; returns them all.
  std::vector<LogMatch> wait_for_log_count(
      const std::string& re, size_t count,
      std::chrono::milliseconds timeout = std::chrono::seconds(10), size_t from = 0);
  // Lines of stderr so far: a mark for wait_for_log(..., from = mark()).
  size_t mark() const;
  // Every line of stderr matching `re` so far, without waiting.
  std::vector<LogMatch> find_all(const std::string& re, size_t from = 0) const;

  // The port of listener `name`, from the last "listener "NAME": [added, |updated, ]
  // listening on ADDR:PORT" line; 0 if there is none. Does not wait.
  uint16_t port_of(const std::string& name) const;
  // The bound address of listener `name` (as above); throws if there is none.
  net::SocketAddress address_of(const std::string& name) const;

  void signal(int sig) const;
  // Waits up to `timeout` (times time_scale()) for the process to exit: its exit code, or 128 + the
  // signal that killed it; std::nullopt if it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  std::string stdout_text() const;
  std::string stderr_text() const;
  std::vector<std::string> lines() const;

 private:
  struct Shared;
  void reader();

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::shared_ptr<Shared> shared_;
  std::thread reader_;
};

// `s` with every regex special character escaped, to match it literally.
std::string regex_escape(const std::string& s);

// Runs the binary to completion (for --check-config and friends): exit code and output.
struct Completed {
  int exit_code = -1;
  std::string out, err;
};
Completed run_parkway(std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));
Completed run_parkway(std::vector<std::string> args, SpawnOptions options,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace parkway::e2e
