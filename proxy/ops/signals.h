// Signals, delivered as values: a dedicated thread waits for them (sigtimedwait) and sends
// each to a Channel that the server's main goroutine reads. No code runs in a signal
// handler, so anything may be done in response.
//
// The way out does not depend on goroutines: nothing preempts a goroutine here, so if the
// process is wedged (a goroutine that never parks holds every P), a channel message would
// never be read. A second SIGTERM or SIGINT is therefore not sent on: the thread itself
// calls `force`, which ends the process from this thread. So does the end of the drain: at
// the first stop signal the thread gives the process `stop budget` (the drain timeout plus
// some grace) to exit; if it is still there then, the thread calls `force` with signal 0.
//
// block_signals() must be called first thing in main(), before any thread exists, so
// that every thread inherits the mask and only the signal thread ever receives them.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "scheduler/channel.h"
#include "scheduler/time.h"

namespace parkway::proxy {

// SIGTERM, SIGINT (drain), SIGHUP (reload), SIGUSR1 (reopen log files).
void block_signals();

// "SIGTERM", or "signal 64" for one without a name.
std::string signal_name(int sig);

// It lives as long as main() (it is made before the runtime and destroyed after it), so
// that the process is ended on time even when it hangs on its way out (a goroutine that
// never parks keeps the runtime from ever stopping).
class SignalThread {
 public:
  using Force = std::function<void(int sig)>;

  // Until set_force() says otherwise, `force` flushes the logs and exits (1, or 128 + the
  // signal).
  explicit SignalThread(Channel<int>& out);
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

  // `force(sig)` runs on the signal thread for the second stop signal `sig`, or with 0
  // when the stop budget is spent; it must not return (it ends the process). An empty
  // function restores the default.
  void set_force(Force force);

  // How long the process may take to exit after the first stop signal before force(0) is
  // called. Callable from any thread; the default is no limit.
  void set_stop_budget(Duration d) { budget_.store(d); }

 private:
  void run();

  void force(int sig);

  Channel<int>& out_;
  std::mutex force_mu_;
  Force force_;  // guarded by force_mu_
  std::atomic<bool> stop_{false};
  std::atomic<Duration> budget_{Duration::max()};
  Time deadline_ = kNoDeadline;  // the thread's own: armed by the first stop signal
  int stop_signals_ = 0;         // SIGTERM and SIGINT seen (the thread's own)
  std::thread thread_;
};

}  // namespace parkway::proxy
