// The public face of the runtime (runtime.h); the machinery is in proc.cpp.
#include "scheduler/runtime.h"

#include <atomic>

#include "scheduler/check.h"
#include "scheduler/internal/proc.h"

namespace parkway {

namespace sched {
void yield_impl();
void sleep_until_impl(Time t);
RuntimeStats stats_impl();
int runtime_init(const RuntimeOptions& opts);
void runtime_run_main(void (*fn)(void*), void* arg);
void runtime_stop();
int64_t runtime_destroy();
}  // namespace sched

namespace {
std::atomic<Runtime*> active_runtime{nullptr};
}

Runtime::Runtime(RuntimeOptions opts) {
  Runtime* expected = nullptr;
  PW_CHECK(active_runtime.compare_exchange_strong(expected, this),
           "a parkway::Runtime is already alive in this process (one at a time)");
  procs_ = sched::runtime_init(opts);
}

Runtime::~Runtime() {
  stop();
  leaked_ = sched::runtime_destroy();
  active_runtime.store(nullptr, std::memory_order_release);
}

Runtime* Runtime::current() { return active_runtime.load(std::memory_order_acquire); }

void Runtime::run_main(void (*fn)(void*), void* arg) {
  PW_CHECK(!started_, "Runtime::run called twice");
  started_ = true;
  sched::runtime_run_main(fn, arg);
  stop();
}

void Runtime::stop() {
  if (stopped_) return;
  stopped_ = true;
  sched::runtime_stop();
}

void yield() { sched::yield_impl(); }
void sleep_until(Time t) { sched::sleep_until_impl(t); }
void sleep_for(Duration d) {
  if (d > Duration::zero()) sched::sleep_until_impl(deadline_after(d));
}

uint64_t goroutine_id() {
  sched::G* g = sched::current_g();
  return g ? sched::goid(g) : 0;
}

bool in_goroutine() { return sched::current_g() != nullptr; }

RuntimeStats runtime_stats() { return sched::stats_impl(); }

}  // namespace parkway
