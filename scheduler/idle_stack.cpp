// Idle stack release: Go shrinks the stacks of idle goroutines; C++ stacks cannot move,
// but their pages can be given back.
//
// An idle proxied connection is two goroutines parked on sockets, each holding at least
// one touched 4 KiB stack page for a few hundred live bytes. sysmon (sysmon.cpp), once
// the first goroutine has called release_stack_when_idle(), looks every second at the
// goroutines that opted in and are parked on I/O (park_io). One that has stayed parked
// since the previous look gets its live bytes, [sp, hi), copied into a heap block of
// exactly their size, and its whole stack given back with MADV_DONTNEED. Before the
// goroutine runs again, the M about to run it copies the bytes back (ensure_stack): one
// page fault and a memcpy of a few hundred bytes, once per idle period. The scan walks
// sched.allg, which is append-only, without a lock (internal/proc.h): a go() that has to
// allocate a new goroutine never waits for a scan and its madvise calls.
//
// Freezing. The goroutine must not be readied while its stack is being copied out. An
// I/O-parked goroutine is readied only by whoever takes its G* out of its slot (a
// PollDesc's rg or wg) with a CAS, so sysmon swaps the G* for kParkSlotBusy first, and
// puts it back when the stack is released. The heap block for the live bytes is
// allocated before the freeze (sized from io_sp, the sp that park_io recorded on g0, and
// checked against sp once frozen), so the freeze covers one copy of a few hundred bytes
// and one madvise. A waker that meets kParkSlotBusy does not wait for it (it may hold a
// PollDesc's lock, or be the poller with events still to dispatch, and sysmon may be
// descheduled right then): it hands the wake-up off, writing park_slot_handoff(v) where
// it would have written v, and sysmon, putting the G* back, finds it, writes v and
// readies the goroutine (park.h; the protocol is checked by model/idle_stack.pml). The
// goroutine's state (kReleased) is set before the thaw, so whoever then readies it, and
// the M that runs it, see it. The hot path pays one atomic load per switch
// (ensure_stack), no read-modify-write.
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

#include "scheduler/check.h"
#include "scheduler/internal/proc.h"
#include "scheduler/runtime.h"

namespace parkway::sched {
namespace {

enum StackState : uint8_t { kResident = 0, kReleased = 1 };

constexpr size_t kMaxLiveBytes = 16 * 1024;  // deeper stacks are not worth copying

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

// g is frozen: copies its live bytes into `saved` (exactly `live` bytes, allocated before
// the freeze) and gives its pages back.
void release(G* g, std::byte* saved, size_t live) {
  copy_stack_bytes(saved, static_cast<std::byte*>(g->sp), live);
  madvise(g->stack.lo, g->stack.size, MADV_DONTNEED);
  g->saved_stack = saved;
  g->saved_size = live;
  g->stack_state.store(kReleased, std::memory_order_release);
  sched.stacks_released.fetch_add(1, std::memory_order_relaxed);
  sched.stack_bytes_saved.fetch_add(static_cast<int64_t>(live), std::memory_order_relaxed);
}

// Puts g's G* back into its slot, ending the freeze. A waker that came meanwhile left a
// hand-off (park.h): then store the value it meant to leave, and ready g for it. The CAS
// loop: a second waker may still change that value.
void thaw(G* g, std::atomic<uintptr_t>* slot) {
  uintptr_t v = kParkSlotBusy;
  if (slot->compare_exchange_strong(v, reinterpret_cast<uintptr_t>(g), std::memory_order_acq_rel)) {
    return;
  }
  for (;;) {
    PW_CHECK(is_park_slot_handoff(v), "sysmon: the slot of frozen goroutine %llu holds %#lx",
             static_cast<unsigned long long>(g->id), static_cast<unsigned long>(v));
    if (slot->compare_exchange_weak(v, park_slot_handoff_value(v), std::memory_order_acq_rel)) {
      break;
    }
  }
  ready(g);  // its stack state (kReleased) is published by the run queue it goes on
}

}  // namespace

void scan_idle_stacks() {
  // allg is append-only and G objects live as long as the runtime, so the walk takes no
  // lock: goroutines created meanwhile are simply not looked at until the next scan.
  sched.allg.for_each([](G* g) {
    if (!g->stack_private.load(std::memory_order_relaxed)) return;
    if (g->status.load(std::memory_order_acquire) != GStatus::waiting) return;
    std::atomic<uintptr_t>* slot = g->io_slot.load(std::memory_order_acquire);
    if (slot == nullptr) return;
    const uint32_t parks = g->io_parks.load(std::memory_order_relaxed);
    if (parks != g->sysmon_parks) {
      g->sysmon_parks = parks;  // parked (again) since the last look: not idle long enough
      return;
    }
    if (g->stack_state.load(std::memory_order_relaxed) != kResident) return;
    // Allocate before freezing: a frozen goroutine's wakers hand off to us, and the
    // goroutine waits for us, so the freeze covers only the copy and the madvise.
    auto* sp = static_cast<std::byte*>(g->io_sp.load(std::memory_order_relaxed));
    if (sp < g->stack.lo || sp >= g->stack.hi()) return;
    const auto live = static_cast<size_t>(g->stack.hi() - sp);
    if (live > kMaxLiveBytes) return;
    auto* saved = new std::byte[live];
    // Freeze it: from here until the G* is back, nobody can ready it (park.h).
    uintptr_t expected = reinterpret_cast<uintptr_t>(g);
    if (!slot->compare_exchange_strong(expected, kParkSlotBusy, std::memory_order_acq_rel)) {
      delete[] saved;
      return;
    }
    if (auto hook = test_hooks.sysmon_frozen.load(std::memory_order_acquire)) hook(g, slot);
    // Frozen, g->sp is stable and ours to read. io_sp was read before the freeze: if g
    // ran and parked again in between, its sp may differ (then look again next time).
    if (g->sp == sp && g->stack_private.load(std::memory_order_relaxed)) {
      release(g, saved, live);
      saved = nullptr;
    }
    thaw(g, slot);
    delete[] saved;
  });
}

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

namespace {

struct IoPark {
  ParkCommit commit;
  void* arg;
};

// On g0, with g off its stack: record where its stack ends for sysmon, then commit.
bool io_commit(G* g, void* arg) {
  auto* p = static_cast<IoPark*>(arg);
  g->io_sp.store(g->sp, std::memory_order_relaxed);
  return p->commit(g, p->arg);
}

}  // namespace

void park_io(ParkCommit commit, void* arg, std::atomic<uintptr_t>* slot) {
  G* g = current_g();
  PW_CHECK(g != nullptr, "park_io called outside a goroutine");
  g->io_slot.store(slot, std::memory_order_release);
  g->io_parks.store(g->io_parks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  IoPark p{commit, arg};
  park(&io_commit, &p);
  g->io_slot.store(nullptr, std::memory_order_relaxed);
}

}  // namespace parkway::sched

namespace parkway {

void release_stack_when_idle() {
  sched::G* g = sched::current_g();
  PW_CHECK(g != nullptr, "release_stack_when_idle called outside a goroutine");
  g->stack_private.store(true, std::memory_order_relaxed);
  sched::sched.idle_stacks_wanted.store(true, std::memory_order_relaxed);
}

}  // namespace parkway
