#include "proxy/ops/signals.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

#include "proxy/log/access_log.h"
#include "proxy/log/log.h"

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

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

void block_signals() {
  sigset_t set = handled();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalThread::SignalThread(Channel<int>& out) : out_(out) {
  thread_ = std::thread([this] { run(); });
}

void SignalThread::set_force(Force force) {
  std::lock_guard<std::mutex> g(force_mu_);
  force_ = std::move(force);
}

void SignalThread::force(int sig) {
  std::lock_guard<std::mutex> g(force_mu_);
  if (force_) force_(sig);
  // No server to do it (not started yet, or gone): flush what is logged and exit.
  if (sig != 0) {
    log_warn(signal_name(sig), " while stopping: exiting now");
  } else {
    log_warn("still running after the drain timeout and its grace: exiting now");
  }
  access_log::shutdown();
  log::shutdown();
  std::_Exit(sig != 0 ? 128 + sig : 1);
}

SignalThread::~SignalThread() {
  stop_.store(true);
  thread_.join();
}

void SignalThread::run() {
  using namespace std::chrono_literals;
  sigset_t set = handled();
  while (!stop_.load()) {
    // A timeout, so that the destructor can stop us without sending a signal, and so that
    // the deadline is looked at.
    if (now() >= deadline_) {
      force(0);
      deadline_ = kNoDeadline;  // (force returned: it is not to be called again)
      continue;
    }
    const Duration wait = std::min<Duration>(200ms, deadline_ - now());
    timespec ts{0, static_cast<long>(std::max<Duration>(wait, 1ms).count())};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig <= 0) continue;
    log_debug("signal thread: ", signal_name(sig), " received");
    if (sig == SIGTERM || sig == SIGINT) {
      if (++stop_signals_ >= 2) {
        force(sig);
        continue;
      }
      deadline_ = add_saturating(now(), budget_.load());
    }
    out_.try_send(sig);  // 16 pending signals: the rest would change nothing
  }
}

}  // namespace parkway::proxy
