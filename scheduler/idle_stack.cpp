// Idle stack release: Go shrinks the stacks of idle goroutines; C++ stacks cannot move,
// but their pages can be given back.
//
// An idle proxied connection is two goroutines parked on sockets, each holding at least
// one touched 4 KiB stack page for a few hundred live bytes. sysmon, a thread of the
// runtime started by the first release_stack_when_idle(), looks every second at the
// goroutines that opted in and are parked on I/O (park_io). One that has stayed parked
// since the previous look gets its live bytes, [sp, hi), copied into a heap block of
// exactly their size, and its whole stack given back with MADV_DONTNEED. Before the
// goroutine runs again, the M about to run it copies the bytes back (ensure_stack): one
// page fault and a memcpy of a few hundred bytes, once per idle period.
//
// Freezing. The goroutine must not be readied while its stack is being copied out. An
// I/O-parked goroutine is readied only by whoever takes its G* out of its slot (a
// PollDesc's rg or wg) with a CAS, so sysmon swaps the G* for kParkSlotBusy first, and
// puts it back when the stack is released; a waker that meets kParkSlotBusy spins for
// those microseconds. The goroutine's state (kReleased) is set before the G* returns to
// the slot, so whoever then readies it, and the M that runs it, see it. The hot path pays
// one atomic load per switch (ensure_stack), no read-modify-write.
//
// The contract (release_stack_when_idle): nothing but the goroutine itself touches its
// stack while it is parked on I/O. A write by another goroutine into a released stack
// would land on a fresh zero page and be overwritten by the restore. Goroutines that
// share stack objects (a Notification in one's frame that the other notifies) must not
// opt in.
//
// Rejected: releasing at every park (a syscall and a page fault per wait, even on busy
// connections); a flag checked by a CAS on every switch (the race between sysmon and an
// M about to run the goroutine needs a full fence, 10+ ns on some CPUs, on the hot path).
#include <sys/mman.h>

#include <thread>

#include "scheduler/internal/check.h"
#include "scheduler/internal/proc.h"
#include "scheduler/runtime.h"

namespace parkway::sched {
namespace {

enum StackState : uint8_t { kResident = 0, kReleased = 1 };

constexpr int64_t kScanEveryNs = 1'000'000'000;  // goroutines idle 1-2 s are released
constexpr size_t kMaxLiveBytes = 16 * 1024;       // deeper stacks are not worth copying

struct Sysmon {
  Note stop;
  std::thread thread;
};
Sysmon* sysmon = nullptr;  // while started

// Byte by byte through a volatile pointer: the compiler cannot turn it into a memcpy
// call, which AddressSanitizer would check against the redzones of the live frames.
#if defined(__clang__) || defined(__GNUC__)
[[gnu::no_sanitize_address]]
#endif
void copy_stack_bytes(std::byte* dst, const std::byte* src, size_t n) {
  volatile std::byte* d = dst;
  const volatile std::byte* s = src;
  for (size_t i = 0; i < n; i++) d[i] = s[i];
}

void release(G* g) {
  auto* sp = static_cast<std::byte*>(g->sp);
  const size_t live = static_cast<size_t>(g->stack.hi() - sp);
  if (sp < g->stack.lo || live > kMaxLiveBytes) return;
  auto* saved = new std::byte[live];
  copy_stack_bytes(saved, sp, live);
  madvise(g->stack.lo, g->stack.size, MADV_DONTNEED);
  g->saved_stack = saved;
  g->saved_size = live;
  g->stack_state.store(kReleased, std::memory_order_release);
  sched.stacks_released.fetch_add(1, std::memory_order_relaxed);
  sched.stack_bytes_saved.fetch_add(static_cast<int64_t>(live), std::memory_order_relaxed);
}

void scan() {
  LockGuard lg(sched.allg_lock);
  for (G* g : sched.allg) {
    if (!g->stack_private.load(std::memory_order_relaxed)) continue;
    if (g->status.load(std::memory_order_acquire) != GStatus::waiting) continue;
    std::atomic<uintptr_t>* slot = g->io_slot.load(std::memory_order_acquire);
    if (slot == nullptr) continue;
    const uint32_t parks = g->io_parks.load(std::memory_order_relaxed);
    if (parks != g->sysmon_parks) {
      g->sysmon_parks = parks;  // parked (again) since the last look: not idle long enough
      continue;
    }
    if (g->stack_state.load(std::memory_order_relaxed) != kResident) continue;
    // Freeze it: from here until the G* is back, nobody can ready it.
    uintptr_t expected = reinterpret_cast<uintptr_t>(g);
    if (!slot->compare_exchange_strong(expected, kParkSlotBusy, std::memory_order_acq_rel)) continue;
    if (g->stack_private.load(std::memory_order_relaxed)) release(g);
    slot->store(reinterpret_cast<uintptr_t>(g), std::memory_order_release);
  }
}

}  // namespace

void restore_stack(G* g) {
  copy_stack_bytes(static_cast<std::byte*>(g->sp), g->saved_stack, g->saved_size);
  sched.stacks_released.fetch_sub(1, std::memory_order_relaxed);
  sched.stack_bytes_saved.fetch_sub(static_cast<int64_t>(g->saved_size), std::memory_order_relaxed);
  delete[] g->saved_stack;
  g->saved_stack = nullptr;
  g->saved_size = 0;
  g->stack_state.store(kResident, std::memory_order_release);
}

void free_saved_stack(G* g) {
  delete[] g->saved_stack;
  g->saved_stack = nullptr;
}

void start_sysmon() {
  if (sched.sysmon_started.exchange(true)) return;
  sysmon = new Sysmon();
  sysmon->thread = std::thread([s = sysmon] {
    while (!s->stop.sleep_for(kScanEveryNs)) scan();
  });
}

void stop_sysmon() {
  if (!sched.sysmon_started.load()) return;
  sysmon->stop.wakeup();
  sysmon->thread.join();
  delete sysmon;
  sysmon = nullptr;
  sched.sysmon_started.store(false);
}

void park_io(ParkCommit commit, void* arg, std::atomic<uintptr_t>* slot) {
  G* g = current_g();
  PW_CHECK(g != nullptr, "park_io called outside a goroutine");
  g->io_slot.store(slot, std::memory_order_release);
  g->io_parks.store(g->io_parks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  park(commit, arg);
  g->io_slot.store(nullptr, std::memory_order_relaxed);
}

}  // namespace parkway::sched

namespace parkway {

void release_stack_when_idle() {
  sched::G* g = sched::current_g();
  PW_CHECK(g != nullptr, "release_stack_when_idle called outside a goroutine");
  g->stack_private.store(true, std::memory_order_relaxed);
  sched::start_sysmon();
}

}  // namespace parkway
