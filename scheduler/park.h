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

#include <cstddef>
#include <atomic>
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
// kParkSlotBusy, and puts the G* back within microseconds: a waker that finds
// kParkSlotBusy must wait (spin) for the G* to return, then proceed as usual.
inline constexpr uintptr_t kParkSlotBusy = 3;
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
