// Signals, delivered as values: a dedicated thread waits for them (sigwaitinfo) and sends
// each to a Channel that the server's main goroutine reads. No code runs in a signal
// handler, so anything may be done in response.
//
// block_signals() must be called first thing in main(), before any thread exists, so
// that every thread inherits the mask and only the signal thread ever receives them.
#pragma once

#include <thread>

#include "scheduler/channel.h"

namespace parkway::proxy {

// SIGTERM, SIGINT (drain), SIGHUP (reload), SIGUSR1 (reopen log files).
void block_signals();

class SignalThread {
 public:
  explicit SignalThread(Channel<int>& out);
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  Channel<int>& out_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace parkway::proxy
