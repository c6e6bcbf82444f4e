// The network poller: one epoll instance per process that tells the scheduler which
// goroutines parked on sockets can run. See netpoll.cpp for the design.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "netpoll/error.h"
#include "netpoll/poll_desc.h"
#include "scheduler/lock.h"
#include "scheduler/poller.h"

namespace parkway::net {

class NetPoller final : public sched::Poller {
 public:
  // The process's poller, created on first use (epoll instance and wake-up eventfd) and
  // installed into the running runtime if it is not its poller yet.
  static NetPoller& get();

  // Registers fd (non-blocking) with the poller, edge-triggered for reading and writing,
  // once for its whole life. Returns its PollDesc.
  Result<PollDesc*> open(int fd);
  // Unregisters the PollDesc's fd and recycles the PollDesc. It must have been evicted
  // and have no waiters. Does not close the fd.
  void close(PollDesc* pd);

  // sched::Poller
  void poll(int64_t timeout_ns, sched::GList* out) override;
  void wake() override;
  bool has_waiters() const override { return waiters_.load(std::memory_order_acquire) > 0; }
  void forget_runtime() override;

  // Handles one epoll event: data is the registration's tag (see event_data). Exposed so
  // that tests can replay a stale event deterministically.
  void dispatch(uint64_t data, uint32_t events, sched::GList* out);
  // The epoll data word registered for pd while it is open.
  static uint64_t event_data(PollDesc* pd);
  // epoll_wait's timeout for poll(timeout_ns): -1 for < 0, else milliseconds rounded up
  // (never early), at most INT_MAX. For kernels without epoll_pwait2.
  static int epoll_timeout_ms(int64_t timeout_ns);
  // For tests only: called by dispatch() once an event has passed its sequence check and
  // before it is applied to the PollDesc, so that a test can pause the poller there and
  // close and reuse the PollDesc meanwhile. nullptr (the default) calls nothing.
  using DispatchHook = void (*)(PollDesc* pd);
  static void set_dispatch_hook_for_test(DispatchHook hook);

  // Goroutines parked on PollDescs (Go's netpollWaiters).
  void add_waiters(int64_t n) { waiters_.fetch_add(n, std::memory_order_acq_rel); }
  // Open PollDescs, for tests and metrics.
  int64_t open_count() const { return open_.load(std::memory_order_relaxed); }

 private:
  NetPoller();
  PollDesc* alloc();
  void free(PollDesc* pd);

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<uint32_t> wake_pending_{0};
  std::atomic<int64_t> waiters_{0};
  std::atomic<int64_t> open_{0};
  std::atomic<bool> have_pwait2_{true};

  sched::RuntimeLock cache_lock_;
  PollDesc* free_ PW_GUARDED_BY(cache_lock_) = nullptr;
  std::vector<PollDesc*> blocks_ PW_GUARDED_BY(cache_lock_);  // never freed: type-stable
  size_t allocated_ PW_GUARDED_BY(cache_lock_) = 0;
};

}  // namespace parkway::net
