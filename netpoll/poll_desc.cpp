#include "netpoll/poll_desc.h"

#include "netpoll/netpoll.h"
#include "scheduler/check.h"

namespace parkway::net {

using sched::G;

namespace {

std::atomic<uintptr_t>& slot(PollDesc* pd, Mode mode) {
  return mode == Mode::read ? pd->rg : pd->wg;
}

bool block_commit(G* g, void* arg) {
  // On g0, the goroutine off its stack: publish it, unless readiness, a deadline or close
  // changed the slot since we set pdWait (then resume at once and look again).
  auto* gpp = static_cast<std::atomic<uintptr_t>*>(arg);
  uintptr_t expected = pdWait;
  if (gpp->compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g))) {
    NetPoller::get().add_waiters(1);
    return true;
  }
  return false;
}

}  // namespace

void PollDesc::publish_info(bool clear_event_err) {
  uint32_t i = 0;
  if (closing) i |= kClosing;
  if (rd < 0) i |= kReadExpired;
  if (wd < 0) i |= kWriteExpired;
  i |= (fdseq.load(std::memory_order_relaxed) & kSeqMask) << kInfoSeqShift;
  // seq_cst, and seq_cst loads of rg/wg after it in unblock(): a waiter does the mirror
  // image (sets pdWait, then reads info), and one of the two must see the other.
  // A CAS loop, not a store: the poller may flip the event bits concurrently.
  uint32_t x = info.load(std::memory_order_relaxed);
  while (!info.compare_exchange_weak(x, clear_event_err ? i : (x & (kEventErr | kHangup)) | i,
                                     std::memory_order_seq_cst)) {
  }
}

void PollDesc::set_event_err(bool err, bool hangup, uint32_t seq) {
  uint32_t x = info.load(std::memory_order_seq_cst);
  for (;;) {
    if ((x >> kInfoSeqShift) != (seq & kSeqMask)) return;  // closed since: not ours to mark
    const uint32_t want = (x & ~kEventErr) | (err ? kEventErr : 0) | (hangup ? kHangup : 0);
    if (want == x) return;
    if (info.compare_exchange_weak(x, want, std::memory_order_seq_cst)) return;
  }
}

std::error_code PollDesc::check_error(Mode mode) const {
  const uint32_t i = info.load(std::memory_order_seq_cst);
  if (i & kClosing) return Errc::closed;
  if ((mode == Mode::read && (i & kReadExpired)) || (mode == Mode::write && (i & kWriteExpired))) {
    return Errc::timeout;
  }
  // An error event is reported on reads only: a write reports something more specific.
  if (mode == Mode::read && (i & kEventErr)) return Errc::not_pollable;
  return {};
}

std::error_code PollDesc::prepare(Mode mode) {
  if (auto ec = check_error(mode)) return ec;
  // Readiness seen before this operation is stale: the syscall itself will tell. Erased
  // by a seq_cst exchange, not a blind store: an event may have set the hangup bit and
  // then found (seq_cst load) or left (seq_cst CAS) the pdReady that this erases, and a
  // reader that trusts a short read (hung_up(), a seq_cst load after its syscall) must
  // then see the bit. The event's access to rg comes before this exchange in rg's order,
  // so before it in the single total order of seq_cst operations, and the event's CAS on
  // info comes before that: the reader's load of info sees it. Nothing to erase, nothing
  // to order (the common case after a wait, which consumed the readiness by a seq_cst
  // CAS itself; and a pdReady that a relaxed load misses stays for the wait to consume).
  auto& gpp = slot(this, mode);
  if (gpp.load(std::memory_order_relaxed) != pdNil) gpp.exchange(pdNil, std::memory_order_seq_cst);
  return {};
}

// Go's netpollblock: returns true if the FD became ready, false on deadline, close or a
// spurious wake-up (the caller re-checks the error state).
bool PollDesc::block(Mode mode) {
  auto& gpp = slot(this, mode);
  for (;;) {
    uintptr_t expected = pdReady;
    if (gpp.compare_exchange_strong(expected, pdNil)) return true;  // consume readiness
    expected = pdNil;
    if (gpp.compare_exchange_strong(expected, pdWait)) break;
    uintptr_t v = gpp.load();
    PW_CHECK(v == pdReady || v == pdNil, "netpoll: two goroutines wait to %s fd %d",
             mode == Mode::read ? "read" : "write", fd);
  }
  // Re-check after setting pdWait: set_deadline/evict store their state, then look at
  // the slot; we set the slot, then look at their state. One of us sees the other.
  if (!check_error(mode)) sched::park_io(&block_commit, &gpp, &gpp);
  // Do not lose a readiness notification that raced with the wake-up.
  uintptr_t old = gpp.exchange(pdNil);
  PW_CHECK(old <= pdWait, "netpoll: corrupted PollDesc for fd %d", fd);
  return old == pdReady;
}

std::error_code PollDesc::wait(Mode mode) {
  if (auto ec = check_error(mode)) return ec;
  while (!block(mode)) {
    if (auto ec = check_error(mode)) return ec;
    // Woken by a deadline that was then moved again before we ran: wait on.
  }
  return {};
}

G* PollDesc::unblock(Mode mode, bool ioready) {
  auto& gpp = slot(this, mode);
  const uintptr_t next = ioready ? pdReady : pdNil;  // what replaces a parked G*
  uintptr_t old = gpp.load(std::memory_order_seq_cst);
  for (;;) {
    if (sched::is_park_slot_handoff(old)) {
      // sysmon holds the goroutine (scheduler/park.h) and an earlier waker has taken the
      // wake-up: only the value sysmon will leave in the slot may still change.
      const uintptr_t v = sched::park_slot_handoff_value(old);
      if (v == pdReady || !ioready) return nullptr;
      if (gpp.compare_exchange_weak(old, sched::park_slot_handoff(pdReady),
                                    std::memory_order_seq_cst)) {
        return nullptr;
      }
      continue;
    }
    if (old == pdReady) return nullptr;
    // Without readiness there is nothing to record for nobody: the next wait() checks
    // the deadline and closing state itself.
    if (old == pdNil && !ioready) return nullptr;
    // The runtime is releasing the parked goroutine's stack (kParkSlotBusy): hand the
    // wake-up off to it rather than wait; it readies the goroutine when it is done.
    const bool frozen = old == sched::kParkSlotBusy;
    const uintptr_t desired = frozen ? sched::park_slot_handoff(next) : next;
    if (gpp.compare_exchange_weak(old, desired, std::memory_order_seq_cst)) {
      if (frozen || sched::park_slot_holds_g(old)) NetPoller::get().add_waiters(-1);
      if (sched::park_slot_holds_g(old)) return reinterpret_cast<G*>(old);
      return nullptr;  // pdNil, pdWait (its commit fails and it resumes), or handed off
    }
  }
}

void PollDesc::on_event(bool readable, bool writable, bool error_only, bool hangup, uint32_t seq,
                        sched::GList* out) {
  // Before the wake-ups, so that a woken reader sees it. Every event sets or clears the
  // event error: an error that a later readiness event no longer reports is gone (as in
  // Go). The hangup bit only ever gets set (see poll_desc.h).
  set_event_err(error_only, hangup, seq);
  if (readable) {
    if (G* g = unblock(Mode::read, true)) out->push(g);
  }
  if (writable) {
    if (G* g = unblock(Mode::write, true)) out->push(g);
  }
}

namespace {

// (Re)arms, moves or disarms the timer of one direction after its deadline changed.
// Moving a deadline later leaves an armed timer alone: deadline_fired re-arms it.
void update_timer(int64_t deadline, int64_t& armed_when, uintptr_t& seq, sched::Timer& t) {
  if (deadline > 0) {
    if (armed_when != 0 && armed_when <= deadline) return;
    seq++;
    armed_when = deadline;
    sched::timer_reset(&t, deadline, seq);
  } else if (armed_when != 0) {
    seq++;
    armed_when = 0;
    sched::timer_stop(&t);
  }
}

}  // namespace

void PollDesc::set_deadline(Time t, bool read, bool write) {
  int64_t d = 0;
  if (t != kNoDeadline) {
    d = sched::to_nanos(t);
    if (d <= sched::nanotime()) d = -1;
  }
  G* rg_ready = nullptr;
  G* wg_ready = nullptr;
  {
    sched::SpinGuard g(lock);
    if (closing) return;
    if (read) {
      rd = d;
      update_timer(rd, rt_when, rseq, rt);
    }
    if (write) {
      wd = d;
      update_timer(wd, wt_when, wseq, wt);
    }
    publish_info();
    if (read && rd < 0) rg_ready = unblock(Mode::read, false);
    if (write && wd < 0) wg_ready = unblock(Mode::write, false);
  }
  if (rg_ready) sched::ready(rg_ready);
  if (wg_ready) sched::ready(wg_ready);
}

void PollDesc::deadline_fired(Mode mode, uintptr_t seq, int64_t now) {
  G* g = nullptr;
  {
    sched::SpinGuard lg(lock);
    const bool read = mode == Mode::read;
    if (seq != (read ? rseq : wseq)) return;  // stale: moved, cleared or closed since
    int64_t& d = read ? rd : wd;
    int64_t& armed = read ? rt_when : wt_when;
    armed = 0;
    PW_CHECK(d > 0, "netpoll: deadline timer fired for fd %d without a deadline", fd);
    if (d > now) {  // pushed later since the timer was armed: wait for the rest
      armed = d;
      sched::timer_reset(read ? &rt : &wt, d, seq);
      return;
    }
    d = -1;
    publish_info();
    g = unblock(mode, false);
  }
  if (g) sched::ready(g);
}

void PollDesc::evict() {
  G* r = nullptr;
  G* w = nullptr;
  {
    sched::SpinGuard g(lock);
    if (closing) return;
    closing = true;
    rseq++;
    wseq++;
    publish_info();
    r = unblock(Mode::read, false);
    w = unblock(Mode::write, false);
    if (rt_when != 0) sched::timer_stop(&rt);
    if (wt_when != 0) sched::timer_stop(&wt);
    rt_when = wt_when = 0;
  }
  if (r) sched::ready(r);
  if (w) sched::ready(w);
}

}  // namespace parkway::net
