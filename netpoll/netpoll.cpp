// The network poller: goroutines meet the kernel here.
//
// A goroutine never blocks its thread on a socket. Every FD is non-blocking; an
// operation calls the syscall, and on EAGAIN parks its goroutine on the FD's PollDesc
// (poll_desc.h) and retries when woken. The scheduler wakes it through this poller, the
// way Go's runtime does (runtime/netpoll_epoll.go, runtime/netpoll.go; docs/design.md):
//
//  - One epoll instance for the process, created on first use (epoll_create1 with
//    EPOLL_CLOEXEC), and an eventfd through which wake() interrupts a blocked epoll_wait.
//    Wake-ups are coalesced by a flag: one write per sleep, however many wake() calls.
//  - An FD is registered exactly once, when it is opened, for EPOLLIN|EPOLLOUT|EPOLLRDHUP|
//    EPOLLPRI edge-triggered (EPOLLPRI: urgent data, which ends a short read early; see
//    the hangup bit in poll_desc.h), and removed once, when it is closed. It is never
//    re-armed: with edge triggering a readiness change is reported once, and the PollDesc
//    remembers it (pdReady) until a goroutine consumes it. Registering EPOLLOUT up front costs one
//    spurious write event per FD, which is cheaper than re-arming on every write.
//  - poll(timeout) is called by the scheduler (scheduler/poller.h): without blocking by
//    any M that looks for work, one at a time; and blocking, until the next timer, by the
//    one M that waits when the whole runtime is idle. It reads events in batches and turns
//    each into the goroutines it readies. A sub-millisecond timeout is honoured exactly
//    with epoll_pwait2 (Linux 5.11) and otherwise rounded up, never down, so a timer is
//    never run early.
//  - Each event carries its PollDesc's address and the low bits of its fdseq. An event
//    fetched for an FD that another thread closed meanwhile (and whose PollDesc may
//    already serve a new FD) has the old fdseq and is dropped. The check takes no lock,
//    so the close may also come right after it: the event-error bit, the one piece of
//    state an event writes that would harm a new FD, is then refused by the sequence in
//    the PollDesc's info word (poll_desc.h); a stale readiness is only spurious.
//  - The wake-up eventfd is level-triggered, unlike data FDs: a non-blocking poll leaves
//    its event alone, so the blocked poller that the wake-up was meant for still sees it.
//
// Why not one epoll instance per P (or per thread)? An FD's goroutine migrates between
// Ps, so its events would have to follow it; Go measured one shared instance as good
// enough, and epoll_wait scales across threads.
#include "netpoll/netpoll.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "scheduler/check.h"

namespace parkway::net {
namespace {

constexpr int kMaxEvents = 128;
constexpr uint64_t kWakeTag = 0;  // data of the eventfd's registration; never a PollDesc
constexpr int kSeqShift = 48;     // user-space addresses fit in 48 bits on x86-64 and aarch64
constexpr uint64_t kPtrMask = (uint64_t{1} << kSeqShift) - 1;

std::atomic<NetPoller::DispatchHook> dispatch_hook{nullptr};

}  // namespace

void NetPoller::set_dispatch_hook_for_test(DispatchHook hook) {
  dispatch_hook.store(hook, std::memory_order_release);
}

uint64_t NetPoller::event_data(PollDesc* pd) {
  auto p = reinterpret_cast<uint64_t>(pd);
  PW_CHECK((p & ~kPtrMask) == 0, "netpoll: PollDesc address %p does not fit 48 bits",
           static_cast<void*>(pd));
  return p |
         (uint64_t{pd->fdseq.load(std::memory_order_relaxed) & PollDesc::kSeqMask} << kSeqShift);
}

namespace {

void read_deadline_fired(void* arg, uintptr_t seq, int64_t now) {
  static_cast<PollDesc*>(arg)->deadline_fired(Mode::read, seq, now);
}
void write_deadline_fired(void* arg, uintptr_t seq, int64_t now) {
  static_cast<PollDesc*>(arg)->deadline_fired(Mode::write, seq, now);
}

}  // namespace

NetPoller::NetPoller() {
  // A write to a socket whose peer has gone must be an error value (EPIPE), never the end
  // of the process. send() can ask for that (MSG_NOSIGNAL); splice() into a socket cannot.
  // So, like Go's runtime, ignore SIGPIPE unless the program installed its own handler.
  struct sigaction sa;
  if (sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  PW_CHECK(epfd_ >= 0, "netpoll: epoll_create1 failed: %s", std::strerror(errno));
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  PW_CHECK(wakefd_ >= 0, "netpoll: eventfd failed: %s", std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  PW_CHECK(epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) == 0,
           "netpoll: cannot register the wake-up eventfd: %s", std::strerror(errno));
}

NetPoller& NetPoller::get() {
  // Lives as long as the process: FDs and late events may outlive any one runtime.
  static NetPoller* const poller = new NetPoller();
  sched::Poller* current = sched::current_poller();
  if (current != nullptr && current != poller) sched::install_poller(poller);
  return *poller;
}

PollDesc* NetPoller::alloc() {
  sched::LockGuard g(cache_lock_);
  if (free_ == nullptr) {
    constexpr size_t kBlock = 64;
    auto* block = new PollDesc[kBlock];
    blocks_.push_back(block);
    allocated_ += kBlock;
    for (size_t i = 0; i < kBlock; i++) {
      block[i].rt.fn = &read_deadline_fired;
      block[i].rt.arg = &block[i];
      block[i].wt.fn = &write_deadline_fired;
      block[i].wt.arg = &block[i];
      block[i].link = free_;
      free_ = &block[i];
    }
  }
  PollDesc* pd = free_;
  free_ = pd->link;
  pd->link = nullptr;
  return pd;
}

void NetPoller::free(PollDesc* pd) {
  sched::LockGuard g(cache_lock_);
  pd->link = free_;
  free_ = pd;
}

Result<PollDesc*> NetPoller::open(int fd) {
  PollDesc* pd = alloc();
  {
    sched::SpinGuard g(pd->lock);
    pd->fd = fd;
    pd->closing = false;
    pd->rd = pd->wd = 0;
    pd->rt_when = pd->wt_when = 0;
    pd->rg.store(pdNil);
    pd->wg.store(pdNil);
    // One store of the whole word with the event error cleared: a stale poller's
    // set_event_err compares the sequence and gives up.
    pd->publish_info(/*clear_event_err=*/true);
    // The same sequence again, as a release store: the poller reads fdseq with acquire
    // after epoll_wait hands it this PollDesc, so the initialisation above (and, for a
    // fresh block, its construction) happens before the poller's reads. The kernel
    // orders epoll_ctl before that epoll_wait anyway; ThreadSanitizer sees no
    // synchronisation through a system call, and reported the construction as racing
    // with dispatch's load (seen under load in reliability case 9, where the report's
    // symbolizer pipes then showed up as leaked descriptors).
    pd->fdseq.store(pd->fdseq.load(std::memory_order_relaxed), std::memory_order_release);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.u64 = event_data(pd);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = current_errno();
    {
      sched::SpinGuard g(pd->lock);
      pd->fdseq.fetch_add(1, std::memory_order_release);
      pd->publish_info();
    }
    free(pd);
    return errno_code(e);
  }
  open_.fetch_add(1, std::memory_order_relaxed);
  return pd;
}

void NetPoller::close(PollDesc* pd) {
  {
    sched::SpinGuard g(pd->lock);
    PW_CHECK(pd->closing, "netpoll: close of fd %d that was not evicted", pd->fd);
  }
  PW_CHECK(pd->rg.load() <= pdWait && pd->wg.load() <= pdWait,
           "netpoll: close of fd %d with a goroutine still waiting", pd->fd);
  // Must come before close(2): once the number is closed, it may be reused at once.
  epoll_ctl(epfd_, EPOLL_CTL_DEL, pd->fd, nullptr);
  {
    // In-flight events become stale: the poller's check of fdseq drops them, and one that
    // passed the check a moment ago fails the sequence test of set_event_err, because the
    // new sequence is in info before the PollDesc can be reused (Go's pollCache.free).
    sched::SpinGuard g(pd->lock);
    pd->fdseq.fetch_add(1, std::memory_order_release);
    pd->publish_info();
  }
  pd->fd = -1;
  open_.fetch_sub(1, std::memory_order_relaxed);
  free(pd);
}

int NetPoller::epoll_timeout_ms(int64_t timeout_ns) {
  if (timeout_ns < 0) return -1;
  // Round up: waking before the timer would only make the scheduler wait again. Without
  // an addition that could overflow for a timeout near INT64_MAX (a deadline near
  // kNoDeadline), and capped: epoll_wait then returns early, which is always allowed.
  const int64_t m = timeout_ns / 1'000'000 + (timeout_ns % 1'000'000 != 0 ? 1 : 0);
  return m > INT_MAX ? INT_MAX : static_cast<int>(m);
}

void NetPoller::poll(int64_t timeout_ns, sched::GList* out) {
  epoll_event events[kMaxEvents];
  int n = -1;
  if (timeout_ns > 0 && have_pwait2_.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                static_cast<long>(timeout_ns % 1'000'000'000)};
    n = epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
    // ENOSYS: a kernel before 5.11. EPERM: a seccomp filter that does not know the call
    // (systemd's SystemCallFilter= on an older systemd). Either way: epoll_wait from now.
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
      have_pwait2_.store(false, std::memory_order_relaxed);
    }
  }
  if (n < 0 && (timeout_ns <= 0 || !have_pwait2_.load(std::memory_order_relaxed))) {
    n = epoll_wait(epfd_, events, kMaxEvents, epoll_timeout_ms(timeout_ns));
  }
  if (n < 0) {
    PW_CHECK(errno == EINTR, "netpoll: epoll_wait failed: %s", std::strerror(errno));
    return;  // interrupted: an early return is always allowed
  }
  for (int i = 0; i < n; i++) {
    const epoll_event& ev = events[i];
    if (ev.data.u64 == kWakeTag) {
      // Only a blocking poll consumes the wake-up; see the note at the top.
      if (timeout_ns != 0) {
        uint64_t buf;
        [[maybe_unused]] ssize_t r = read(wakefd_, &buf, sizeof buf);
        wake_pending_.store(0, std::memory_order_release);
      }
      continue;
    }
    dispatch(ev.data.u64, ev.events, out);
  }
}

void NetPoller::dispatch(uint64_t data, uint32_t e, sched::GList* out) {
  const bool readable = e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
  const bool hangup = e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
  const bool writable = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  auto* pd = reinterpret_cast<PollDesc*>(data & kPtrMask);
  const auto seq = static_cast<uint32_t>(data >> kSeqShift);
  // Stale: closed since it was fetched. The check is outside any lock, so the FD may still
  // be closed right after it; on_event copes (see "info" in poll_desc.h).
  if ((pd->fdseq.load(std::memory_order_acquire) & PollDesc::kSeqMask) != seq) return;
  if (DispatchHook hook = dispatch_hook.load(std::memory_order_acquire)) hook(pd);
  pd->on_event(readable, writable, e == EPOLLERR, hangup, seq, out);
}

void NetPoller::wake() {
  if (wake_pending_.exchange(1, std::memory_order_acq_rel) != 0) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t w = write(wakefd_, &one, sizeof one);
}

void NetPoller::forget_runtime() {
  sched::LockGuard g(cache_lock_);
  for (PollDesc* block : blocks_) {
    for (size_t i = 0; i < 64; i++) {
      PollDesc& pd = block[i];
      sched::SpinGuard pl(pd.lock);
      for (auto* gpp : {&pd.rg, &pd.wg}) {
        if (sched::park_slot_holds_g(gpp->load())) {
          gpp->store(pdNil);
          add_waiters(-1);
        }
      }
      // The timers were on the dying runtime's heaps: forget them without touching them.
      for (auto* t : {&pd.rt, &pd.wt}) {
        t->heap.store(nullptr);
        t->index = -1;
      }
      pd.rt_when = pd.wt_when = 0;
    }
  }
}

}  // namespace parkway::net
