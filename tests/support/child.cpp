#include "tests/support/child.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

namespace parkway::test {
namespace {

std::map<std::string, std::function<int()>>& scenarios() {
  static std::map<std::string, std::function<int()>> m;
  return m;
}

constexpr const char* kFlag = "--parkway-child";

}  // namespace

int register_child_scenario(const char* name, std::function<int()> body) {
  scenarios().emplace(name, std::move(body));
  return 0;
}

bool maybe_run_child(int argc, char** argv, int* exit_code) {
  if (argc != 3 || std::strcmp(argv[1], kFlag) != 0) return false;
  auto it = scenarios().find(argv[2]);
  if (it == scenarios().end()) {
    std::fprintf(stderr, "no child scenario named '%s'\n", argv[2]);
    *exit_code = 127;
    return true;
  }
  *exit_code = it->second();
  return true;
}

ChildResult run_child(const std::string& name) {
  if (scenarios().count(name) == 0) throw std::logic_error("unknown child scenario: " + name);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  // Our own executable, by its real path: under an emulator (qemu-user, for the aarch64
  // run of script/test) /proc/self/exe is the emulator, which must be asked to run us
  // again, through $PARKWAY_TEST_EXEC_WRAPPER.
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  self[len] = '\0';
  const char* wrapper = std::getenv("PARKWAY_TEST_EXEC_WRAPPER");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(pipefd[1], STDERR_FILENO);
    if (wrapper != nullptr && wrapper[0] != '\0') {
      const char* args[] = {wrapper, self, kFlag, name.c_str(), nullptr};
      execvp(wrapper, const_cast<char* const*>(args));
    } else {
      const char* args[] = {self, kFlag, name.c_str(), nullptr};
      execv(self, const_cast<char* const*>(args));
    }
    _exit(126);
  }
  close(pipefd[1]);
  ChildResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      r.stderr_text.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
  }
  return r;
}

}  // namespace parkway::test
