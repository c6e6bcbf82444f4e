#include "proxy/signals.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace parkway::proxy {
namespace {

sigset_t handled() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

void block_signals() {
  sigset_t set = handled();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalThread::SignalThread(Channel<int>& out) : out_(out) {
  thread_ = std::thread([this] {
    sigset_t set = handled();
    while (!stop_.load()) {
      // A timeout, so that the destructor can stop us without sending a signal.
      timespec ts{0, 200'000'000};
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig > 0) out_.try_send(sig);  // 16 pending signals: the rest would change nothing
    }
  });
}

SignalThread::~SignalThread() {
  stop_.store(true);
  thread_.join();
}

}  // namespace parkway::proxy
