// park.h: the contract between the scheduler and the layers that build blocking
// primitives on it (netpoll/, and sync.h/channel.h here). Application code does not need
// it: it uses parkway::Mutex, Channel, the socket API and so on, which park for it.
//
// park(commit, arg) suspends the calling goroutine. It switches to the M's scheduler
// context (g0) first and runs commit(g, arg) there, after the goroutine has left its
// stack. commit publishes g where a waker will find it (a PollDesc's rg, a wait queue) and
// returns true; from that moment any thread may call ready(g), and the goroutine resumes
// on whichever M runs it next. If commit returns false the goroutine resumes at once.
// Because the goroutine is off its stack before anyone can see it, there is no window in
// which it is both published and still running: this is what lets PollDesc hand a G*
// between threads with plain atomics and no lock.
//
// ready(g) makes a parked goroutine runnable. Readying a goroutine that is not parked
// (never parked, or already readied) is a fatal error: each park is matched by exactly
// one ready.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace parkway::sched {

struct G;  // a goroutine; opaque outside the scheduler

// The goroutine running on this thread, or nullptr on a thread that is not running one
// (main thread, DNS thread, the scheduler's own context).
G* current_g();
uint64_t goid(const G* g);

using ParkCommit = bool (*)(G* g, void* arg);
void park(ParkCommit commit, void* arg);
void ready(G* g);

// park() for a wait on I/O whose waker takes the goroutine out of `*slot` with a CAS (a
// PollDesc's rg or wg): commit must publish the G* there. If the goroutine called
// release_stack_when_idle() and stays parked, the runtime may release its stack pages
// meanwhile. To do so it freezes the goroutine by swapping its G* in *slot for
// kParkSlotBusy, and puts the G* back when the pages are released (a copy of a few
// hundred bytes and one madvise).
//
// A waker never waits for that. One that finds kParkSlotBusy where it would take the G*
// hands the wake-up off instead: it CASes in park_slot_handoff(v), v being the value it
// would have left in the slot in place of the G* (a value below kParkSlotBusy), and does
// not ready the goroutine. The runtime, putting the G* back, finds the hand-off, stores v
// and readies the goroutine itself. A waker that finds park_slot_handoff(v) reads it as v
// with the goroutine already taken: it may replace v (CAS to park_slot_handoff(v2)), never
// ready the goroutine. (scheduler/model/idle_stack.pml checks this protocol.)
inline constexpr uintptr_t kParkSlotBusy = 3;
inline constexpr uintptr_t kParkSlotHandoff = 4;  // park_slot_handoff(v) = 4 | v, v < 4
constexpr uintptr_t park_slot_handoff(uintptr_t v) { return kParkSlotHandoff | v; }
constexpr bool is_park_slot_handoff(uintptr_t s) { return (s & ~uintptr_t{3}) == kParkSlotHandoff; }
constexpr uintptr_t park_slot_handoff_value(uintptr_t s) { return s & 3; }
// Whether a slot value is a parked goroutine's G* (goroutines are 8-byte aligned, so no
// G* is below 8 and none collides with the small values above).
constexpr bool park_slot_holds_g(uintptr_t s) { return s >= 8; }
void park_io(ParkCommit commit, void* arg, std::atomic<uintptr_t>* slot);

// An intrusive list of goroutines (linked through the G), used by a poller to return the
// goroutines it readied in one batch.
class GList {
 public:
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  void push(G* g);
  G* pop();

 private:
  G* head_ = nullptr;
  G* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace parkway::sched
