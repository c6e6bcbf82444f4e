// Child scenarios: run a piece of test code in a fresh process and observe how it ends.
//
// Some behaviour can only be observed from outside: a stack overflow that must abort with
// a message, an rlimit that must not leak into other tests. A scenario is registered by
// name; run_child(name) re-executes the test binary (/proc/self/exe --parkway-child NAME),
// which runs only that scenario, and returns its exit status and everything it wrote to
// stderr. fork+exec, not a bare fork, so the child starts single-threaded and clean.
#pragma once

#include <csignal>
#include <functional>
#include <string>

namespace parkway::test {

struct ChildResult {
  bool exited = false;  // exited normally (exit_code valid)
  int exit_code = -1;
  int term_signal = 0;  // signal that killed it, 0 if it exited
  std::string stderr_text;
};

// Registers a scenario; use PARKWAY_CHILD_SCENARIO below.
int register_child_scenario(const char* name, std::function<int()> body);

// Runs scenario `name` in a child process and waits for it.
ChildResult run_child(const std::string& name);

// Called by the test main: if argv names a scenario, runs it and returns true with
// *exit_code set.
bool maybe_run_child(int argc, char** argv, int* exit_code);

}  // namespace parkway::test

#define PARKWAY_CHILD_CONCAT2(a, b) a##b
#define PARKWAY_CHILD_CONCAT(a, b) PARKWAY_CHILD_CONCAT2(a, b)
// PARKWAY_CHILD_SCENARIO("name") { ...; return exit_code; }
#define PARKWAY_CHILD_SCENARIO(name)                                    \
  static int PARKWAY_CHILD_CONCAT(parkway_child_body_, __LINE__)();     \
  static const int PARKWAY_CHILD_CONCAT(parkway_child_reg_, __LINE__) = \
      ::parkway::test::register_child_scenario(                         \
          name, &PARKWAY_CHILD_CONCAT(parkway_child_body_, __LINE__));  \
  static int PARKWAY_CHILD_CONCAT(parkway_child_body_, __LINE__)()
