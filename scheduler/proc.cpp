// The goroutine scheduler: G, M and P, after Go's runtime (runtime/proc.go).
//
// Goroutines (G) are stackful user-space threads. They run on OS threads (M, "machine"),
// and an M may only run goroutines while it holds a P ("processor"): the right to run Go
// code, holding a local run queue, a cache of dead goroutines and a heap of timers. There
// are exactly `procs` Ps, so at most `procs` goroutines run at once; Ms come and go as Ps
// need them. A goroutine runs until it parks or yields: scheduling is cooperative (C++
// cannot be preempted safely), so a goroutine that computes for long should yield().
//
// Each M runs the scheduler loop on its own thread stack ("g0"). To run a goroutine it
// switches to the goroutine's stack; the goroutine comes back to g0 when it parks, yields
// or exits, leaving a "handoff" request on the M that g0 then carries out. The one short
// cut: yield() with another goroutine ready on the local queue switches straight to it,
// and the goroutine that resumes performs the handoff instead (after_switch).
//
// Where work is found (find_runnable), in order:
//   1. expired timers of this P (their callbacks ready goroutines);
//   2. every 61st tick, the global queue first (and the network, if nobody has polled it
//      for 10 ms), so that busy local queues cannot starve them;
//   3. the local queue (runnext first), then the global queue;
//   4. a non-blocking poll of the network, by one M at a time;
//   5. stealing: half of another P's queue, or on the last pass its runnext and its
//      expired timers (so an idle P runs the timers of busy or idle ones);
//   6. nothing: the M gives up its P. Exactly one M then blocks in the poller until the
//      earliest timer of any P; every other idle M sleeps on its futex (stopm).
// sysmon (sysmon.cpp), a thread without a P, backs this up from outside: it polls a
// network nobody has polled for 10 ms and starts an M for an overdue timer, for the
// cases where every M that could have done it is asleep or busy with a goroutine that
// does not yield.
//
// Waking up (the protocol that prevents both lost wake-ups and thundering herds):
//   - ready(g) and go() put the goroutine on the current P's queue (runnext) and call
//     wakep(): if a P is idle and no M is spinning, start one spinning M to go looking.
//   - Only one M spins per wake-up: a spinning M that finds work stops spinning and calls
//     wakep() itself, so a burst of work fans out one M at a time.
//   - An M that gives up spinning re-checks every run queue *after* dropping the spinning
//     count, because a concurrent wakep() saw it spinning and relied on it. This is a
//     store-load (Dekker) handshake: the producer stores work then loads nmspinning, the
//     M stores nmspinning then loads the queues. C++ release/acquire does not order a
//     store before a later load, so both sides have a seq_cst fence (wakep, and
//     find_runnable after the decrement), as Go's sequentially consistent atomics give
//     it; wake_poller has one for the same reason (timer heap, then lastpoll).
//   - Unlike Go, every M that gives up its P re-checks, spinning or not, and so does
//     wakep when it counted an M as spinning (a CAS of nmspinning from 0) and then found
//     no idle P to start it with. Go re-checks only after spinning: an M that declined
//     to spin, because nmspinning said another M was looking, gives up its P without
//     looking, although that count may be stale (the M found its work and runs it) or
//     may stand for an M that never existed (wakep's, with no idle P). Work readied
//     meanwhile on a busy P then waits for that P, which in Go preempts its goroutine
//     within 10 ms. parkway does not preempt: behind a goroutine that never yields, the
//     work would wait for ever while the other Ps sleep (the ping-pong test hit this
//     under qemu). With the re-checks, each side of every hand-off (a P put on the idle
//     list, a spinning count dropped, work published) is followed by a seq_cst fence and
//     a look at the other, so whichever comes second in the fences' order sees the
//     first. scheduler/model/spinning.pml checks it, and that Go's rule loses the work.
//   - Adding a timer earlier than the one the blocked poller sleeps until wakes the
//     poller (wake_poller); if nobody is in the poller, wakep() gets an M to handle it.
//
// lastpoll is the token of the one blocking poll: 0 while an M is blocked in poll(),
// otherwise when the last poll ended. An M takes it with exchange(0) before it blocks and
// gives it back (the time) when it returns. Whoever else polls (the every-61st-tick poll,
// sysmon) records its poll with a CAS from the value it read, never a plain store: a store
// could hand out a second token while the first M is still blocked, and two Ms would
// sleep in epoll_wait, one of them deaf to wake_poller(). find_runnable checks that at
// most one M ever blocks there (a fatal error otherwise; test_hooks.h counts them).
//
// Rejected alternatives: a single global queue under one lock (contention on every
// ready); a thread per P without a spinning M (every ready would be a futex wake-up, ~5us);
// preemption by signals (C++ code is not async-signal-safe at arbitrary points).
//
// States and ownership: see GStatus in internal/proc.h. The stack of a runnable or waiting
// goroutine belongs to nobody running; a running goroutine's stack belongs to its M.
#include "scheduler/internal/proc.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>

#include "scheduler/check.h"
#include "scheduler/internal/context.h"
#include "scheduler/internal/sanitizer.h"
#include "scheduler/runtime.h"

namespace parkway::sched {

Sched sched;
TestHooks test_hooks;

int32_t blocked_pollers() { return sched.blocked_pollers.load(std::memory_order_acquire); }
int32_t max_blocked_pollers() { return sched.max_blocked_pollers.load(std::memory_order_acquire); }
uint32_t current_schedtick() {
  M* mp = getm();
  return mp && mp->p ? mp->p->schedtick : 0;
}

const char* to_string(GStatus s) {
  switch (s) {
    case GStatus::idle: return "idle";
    case GStatus::runnable: return "runnable";
    case GStatus::running: return "running";
    case GStatus::waiting: return "waiting";
    case GStatus::dead: return "dead";
  }
  return "?";
}

// ---- GList ---------------------------------------------------------------------------

void GList::push(G* g) {
  g->schedlink = nullptr;
  if (tail_) {
    tail_->schedlink = g;
  } else {
    head_ = g;
  }
  tail_ = g;
  size_++;
}

G* GList::pop() {
  G* g = head_;
  if (g) {
    head_ = g->schedlink;
    if (!head_) tail_ = nullptr;
    g->schedlink = nullptr;
    size_--;
  }
  return g;
}

namespace {

uint32_t fastrand(M* mp) {
  // xorshift64*: good enough to pick steal victims.
  uint64_t x = mp->rand_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  mp->rand_state = x;
  return static_cast<uint32_t>((x * 0x2545F4914F6CDD1DULL) >> 32);
}

// ---- Global run queue (sched.lock) ----------------------------------------------------

void globrunqput(G* g) PW_REQUIRES(sched.lock) {
  g->schedlink = nullptr;
  if (sched.runq_tail) {
    sched.runq_tail->schedlink = g;
  } else {
    sched.runq_head = g;
  }
  sched.runq_tail = g;
  sched.runqsize.fetch_add(1, std::memory_order_relaxed);
}

void globrunqputbatch(GList* list) PW_REQUIRES(sched.lock) {
  while (G* g = list->pop()) globrunqput(g);
}

G* globrunqpop() PW_REQUIRES(sched.lock) {
  G* g = sched.runq_head;
  if (g) {
    sched.runq_head = g->schedlink;
    if (!sched.runq_head) sched.runq_tail = nullptr;
    g->schedlink = nullptr;
    sched.runqsize.fetch_sub(1, std::memory_order_relaxed);
  }
  return g;
}

void runqput(P* pp, G* g, bool next);

// Takes a fair share of the global queue into pp's local queue; returns one to run.
G* globrunqget(P* pp, int32_t max) PW_REQUIRES(sched.lock) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t n = size / sched.procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int32_t>(kRunQueueSize / 2)) n = kRunQueueSize / 2;
  G* g = globrunqpop();
  for (n--; n > 0; n--) runqput(pp, globrunqpop(), false);
  return g;
}

// ---- Local run queue (Go's runqput/runqget/runqgrab/runqsteal) ------------------------

bool runqputslow(P* pp, G* g, uint32_t h, uint32_t t);

// Puts g on pp's queue; with next, into runnext (kicking the old runnext to the tail).
// Only pp's owner calls this.
void runqput(P* pp, G* g, bool next) {
  if (next) {
    G* old = pp->runnext.load(std::memory_order_relaxed);
    while (!pp->runnext.compare_exchange_weak(old, g, std::memory_order_acq_rel)) {
    }
    if (old == nullptr) return;
    g = old;
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);  // synchronise with stealers
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t - h < kRunQueueSize) {
      pp->runq[t % kRunQueueSize].store(g, std::memory_order_relaxed);
      pp->runqtail.store(t + 1, std::memory_order_release);  // publish to stealers
      return;
    }
    if (runqputslow(pp, g, h, t)) return;
    // The queue is no longer full (someone stole); try again.
  }
}

// The local queue is full: move half of it and g to the global queue.
bool runqputslow(P* pp, G* g, uint32_t h, uint32_t t) {
  constexpr uint32_t kHalf = kRunQueueSize / 2;
  G* batch[kHalf + 1];
  uint32_t n = (t - h) / 2;
  PW_CHECK(n == kHalf, "runqputslow: queue is not full");
  for (uint32_t i = 0; i < n; i++) {
    batch[i] = pp->runq[(h + i) % kRunQueueSize].load(std::memory_order_relaxed);
  }
  if (!pp->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release)) return false;
  batch[n] = g;
  GList list;
  for (uint32_t i = 0; i <= n; i++) list.push(batch[i]);
  LockGuard lg(sched.lock);
  globrunqputbatch(&list);
  return true;
}

// Takes the next goroutine from pp's queue. Only pp's owner calls this.
G* runqget(P* pp) {
  G* next = pp->runnext.load(std::memory_order_relaxed);
  // runnext can only be cleared by others (stealers), so CAS it.
  if (next != nullptr &&
      pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    G* g = pp->runq[h % kRunQueueSize].load(std::memory_order_relaxed);
    if (pp->runqhead.compare_exchange_weak(h, h + 1, std::memory_order_release)) return g;
  }
}

bool runq_empty(P* pp) {
  // Re-read until head, tail and runnext were observed consistently (as in Go).
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_acquire);
    G* next = pp->runnext.load(std::memory_order_acquire);
    if (pp->runqtail.load(std::memory_order_acquire) == t) return h == t && next == nullptr;
  }
}

// Grabs half of pp's queue into batch[batch_head...]; returns how many. Called by thieves.
uint32_t runqgrab(P* pp, std::array<std::atomic<G*>, kRunQueueSize>& batch, uint32_t batch_head,
                  bool steal_runnext) {
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        G* next = pp->runnext.load(std::memory_order_acquire);
        if (next != nullptr) {
          // pp's owner is likely about to run it (it was just readied by the goroutine
          // running there): give it a moment, rather than bouncing a ping-pong pair
          // between CPUs. Go sleeps 3us here, and so do we, although with the default
          // timer slack usleep(3) sleeps ~50-70us (68us measured on the 2-core VM): the
          // thief stays away long enough for the owner to take runnext. Measured against
          // sched_yield(), a spin of up to 100 pauses (~6us) until runnext changes, and no
          // wait, medians of 10 interleaved rounds (ns per op; ChanPingPong/2, SpawnJoin/2,
          // TcpPingPong): usleep 299-333, 339-392, 13.1-13.8k; yield 304-358, 319-563,
          // 13.5-15.6k; spin 500-556, 385-426, 14.2-15.8k; none 542-650, 444-448,
          // 13.7-14.8k (bench/runtime/runqgrab_variants.sh 10). The spin and no wait lose
          // the ping-pong; yield is no better.
          if (pp->m.load(std::memory_order_relaxed) != nullptr) {
            usleep(3);
          }
          if (!pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
            continue;
          }
          batch[batch_head % kRunQueueSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunQueueSize / 2) continue;  // read an inconsistent h and t
    for (uint32_t i = 0; i < n; i++) {
      G* g = pp->runq[(h + i) % kRunQueueSize].load(std::memory_order_relaxed);
      batch[(batch_head + i) % kRunQueueSize].store(g, std::memory_order_relaxed);
    }
    if (pp->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release)) return n;
  }
}

// Steals half of p2's queue into pp's; returns one goroutine to run.
G* runqsteal(P* pp, P* p2, bool steal_runnext) {
  uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
  uint32_t n = runqgrab(p2, pp->runq, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  G* g = pp->runq[(t + n) % kRunQueueSize].load(std::memory_order_relaxed);
  if (n == 0) return g;
  uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  PW_CHECK(t - h + n < kRunQueueSize, "runqsteal: local queue overflow");
  pp->runqtail.store(t + n, std::memory_order_release);
  return g;
}

// ---- Idle Ps and Ms (sched.lock) --------------------------------------------------------

void pidleput(P* pp) PW_REQUIRES(sched.lock) {
  PW_CHECK(runq_empty(pp), "pidleput: P %d has runnable goroutines", pp->id);
  pp->link = sched.pidle;
  sched.pidle = pp;
  sched.npidle.fetch_add(1, std::memory_order_acq_rel);
}

P* pidleget() PW_REQUIRES(sched.lock) {
  P* pp = sched.pidle;
  if (pp) {
    sched.pidle = pp->link;
    pp->link = nullptr;
    sched.npidle.fetch_sub(1, std::memory_order_acq_rel);
  }
  return pp;
}

void mput(M* mp) PW_REQUIRES(sched.lock) {
  mp->schedlink = sched.midle;
  sched.midle = mp;
  sched.nmidle++;
}

M* mget() PW_REQUIRES(sched.lock) {
  M* mp = sched.midle;
  if (mp) {
    sched.midle = mp->schedlink;
    mp->schedlink = nullptr;
    sched.nmidle--;
  }
  return mp;
}

void acquirep(M* mp, P* pp) {
  PW_CHECK(pp->m.load(std::memory_order_relaxed) == nullptr, "acquirep: P %d is already held",
           pp->id);
  PW_CHECK(mp->p == nullptr, "acquirep: M %lld already holds a P", static_cast<long long>(mp->id));
  pp->m.store(mp, std::memory_order_relaxed);
  mp->p = pp;
  // sysmon may have gone to its long sleep seeing every P idle (sysmon.cpp): the P is
  // taken (npidle decremented) before this reads its flag, and sysmon sets the flag before
  // it re-reads npidle, so one of the two sees the other. Not a hot path: an M takes a P
  // when it starts, wakes up or returns from the blocking poll.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.sysmon_deep_sleep.load(std::memory_order_relaxed)) wake_sysmon();
}

P* releasep(M* mp) {
  P* pp = mp->p;
  PW_CHECK(pp && pp->m.load(std::memory_order_relaxed) == mp, "releasep: M does not hold its P");
  pp->m.store(nullptr, std::memory_order_relaxed);
  mp->p = nullptr;
  return pp;
}

// ---- Dead goroutines and their stacks --------------------------------------------------

// A P caches up to kGFreeMax dead goroutines; beyond that half go to the global pool.
// The global pool keeps kGFreeDirtyMax stacks as they are (warm); the stacks of the rest
// are given back to the kernel first (the high-water mark of resident stack memory).
constexpr int32_t kGFreeMax = 64;
constexpr int32_t kGFreeDirtyMax = 1024;

void gfput(P* pp, G* g) {
  g->status.store(GStatus::dead, std::memory_order_relaxed);
  g->schedlink = pp->gfree;
  pp->gfree = g;
  pp->gfree_n++;
  if (pp->gfree_n < kGFreeMax) return;

  G* batch = nullptr;
  while (pp->gfree_n > kGFreeMax / 2) {
    G* x = pp->gfree;
    pp->gfree = x->schedlink;
    pp->gfree_n--;
    x->schedlink = batch;
    batch = x;
  }
  G* to_release = nullptr;
  {
    LockGuard lg(sched.gfree_lock);
    while (batch && sched.gfree_dirty_n < kGFreeDirtyMax) {
      G* x = batch;
      batch = x->schedlink;
      x->schedlink = sched.gfree_dirty;
      sched.gfree_dirty = x;
      sched.gfree_dirty_n++;
    }
    to_release = batch;
  }
  if (to_release == nullptr) return;
  int32_t n = 0;
  G* last = nullptr;
  for (G* x = to_release; x; x = x->schedlink) {
    sched.stacks.release_pages(x->stack);  // outside the lock: one madvise per stack
    last = x;
    n++;
  }
  LockGuard lg(sched.gfree_lock);
  last->schedlink = sched.gfree_clean;
  sched.gfree_clean = to_release;
  sched.gfree_clean_n += n;
}

G* gfget_global() PW_REQUIRES(sched.gfree_lock) {
  G* g = sched.gfree_dirty;  // warm stacks first
  if (g) {
    sched.gfree_dirty = g->schedlink;
    sched.gfree_dirty_n--;
    return g;
  }
  g = sched.gfree_clean;
  if (g) {
    sched.gfree_clean = g->schedlink;
    sched.gfree_clean_n--;
  }
  return g;
}

G* gfget(P* pp) {
  if (pp == nullptr) {
    LockGuard lg(sched.gfree_lock);
    return gfget_global();
  }
  if (pp->gfree == nullptr) {
    LockGuard lg(sched.gfree_lock);
    while (pp->gfree_n < kGFreeMax / 2) {
      G* g = gfget_global();
      if (!g) break;
      g->schedlink = pp->gfree;
      pp->gfree = g;
      pp->gfree_n++;
    }
  }
  G* g = pp->gfree;
  if (g) {
    pp->gfree = g->schedlink;
    pp->gfree_n--;
    g->schedlink = nullptr;
  }
  return g;
}

uint64_t new_goid(P* pp) {
  constexpr uint64_t kBatch = 16;
  if (pp == nullptr) return sched.goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goid_next == pp->goid_end) {
    pp->goid_next = sched.goid_gen.fetch_add(kBatch, std::memory_order_relaxed) + 1;
    pp->goid_end = pp->goid_next + kBatch;
  }
  return pp->goid_next++;
}

// ---- Switching -------------------------------------------------------------------------

// Switches from the running context (whose stack pointer is saved in *save_sp) to `to`,
// or to this M's g0 when `to` is null. `leaving` says the current goroutine has exited
// and will never be resumed (ASan then drops its fake stack).
void gogo(M* mp, void** save_sp, G* to, bool leaving) {
  void* fake_stack = nullptr;
  void** fake_save = leaving ? nullptr : &fake_stack;
  if (to) {
    san::start_switch(fake_save, to->stack.lo, to->stack.size);
    san::fiber_switch(to->tsan_fiber);
    parkway_ctx_switch(save_sp, to->sp);
  } else {
    san::start_switch(fake_save, mp->g0_stack_lo, mp->g0_stack_size);
    san::fiber_switch(mp->tsan_g0_fiber);
    parkway_ctx_switch(save_sp, mp->g0_sp);
  }
  // Resumed, possibly on another M: mp is stale from here on.
  san::finish_switch(fake_stack);
}

// Run by a goroutine right after it resumes: carries out the request of the goroutine
// that switched straight to it (the yield fast path). Switches through g0 leave nothing.
void after_switch() {
  M* mp = getm();
  if (mp->handoff == Handoff::none) return;
  PW_CHECK(mp->handoff == Handoff::yield, "after_switch: unexpected handoff %d",
           static_cast<int>(mp->handoff));
  G* prev = mp->handoff_g;
  mp->handoff = Handoff::none;
  mp->handoff_g = nullptr;
  prev->status.store(GStatus::runnable, std::memory_order_release);
  runqput(mp->p, prev, false);
}

void goexit();

void goroutine_main(void* arg) {
  G* g = static_cast<G*>(arg);
  san::finish_switch(nullptr);
  after_switch();
  try {
    g->entry(g->entry_arg);
  } catch (const std::exception& e) {
    fatal("goroutine %llu: uncaught exception: %s", static_cast<unsigned long long>(g->id),
          e.what());
  } catch (...) {
    fatal("goroutine %llu: uncaught exception (not derived from std::exception)",
          static_cast<unsigned long long>(g->id));
  }
  goexit();
}

// Leaves the running goroutine for g0, asking it to carry out `h`.
void mcall(Handoff h, ParkCommit commit, void* arg) {
  M* mp = getm();
  G* g = mp->curg;
  mp->handoff = h;
  mp->handoff_g = g;
  mp->commit = commit;
  mp->commit_arg = arg;
  gogo(mp, &g->sp, nullptr, h == Handoff::exit);
  after_switch();
}

void goexit() {
  mcall(Handoff::exit, nullptr, nullptr);
  fatal("goexit: a dead goroutine was resumed");
}

// ---- Timers --------------------------------------------------------------------------

// Runs pp's expired timers. *now is read lazily (0: not read yet) and returned; the
// return value is pp's next timer (0: none).
int64_t check_timers(P* pp, int64_t* now) {
  int64_t next = pp->timers.next_when();
  if (next == 0) return 0;
  if (*now == 0) *now = nanotime();
  if (*now < next) return next;
  pp->timers.run_expired(*now);
  return pp->timers.next_when();
}

int64_t check_timers_no_p(int64_t poll_until) {
  for (P* pp : sched.allp) {
    int64_t w = pp->timers.next_when();
    if (w != 0 && (poll_until == 0 || w < poll_until)) poll_until = w;
  }
  return poll_until;
}

bool timers_due(P* pp) {
  int64_t w = pp->timers.next_when();
  return w != 0 && w <= nanotime();
}

// ---- Finding work ----------------------------------------------------------------------

void become_spinning(M* mp) {
  mp->spinning = true;
  sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
}

void reset_spinning(M* mp) {
  mp->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
  PW_CHECK(n > 0, "reset_spinning: negative nmspinning");
  // The M wake-up policy is conservative (one spinning M at a time); now that this one has
  // found work, let another go looking in case there is more.
  wakep();
}

void make_runnable(G* g) {
  GStatus s = GStatus::waiting;
  if (!g->status.compare_exchange_strong(s, GStatus::runnable, std::memory_order_acq_rel)) {
    fatal("ready of goroutine %llu, which is %s, not parked (readied twice?)",
          static_cast<unsigned long long>(g->id), to_string(s));
  }
}

void start_idle(int32_t n);

// Makes every goroutine in `list` runnable: some go to the global queue for idle Ps (with
// Ms started for them), the rest to the current P.
void inject_glist(M* mp, GList* list) {
  if (list->empty()) return;
  const auto total = static_cast<int32_t>(list->size());
  P* pp = mp ? mp->p : nullptr;
  if (pp == nullptr) {
    {
      LockGuard lg(sched.lock);
      while (G* g = list->pop()) {
        make_runnable(g);
        globrunqput(g);
      }
    }
    start_idle(total);
    return;
  }
  int32_t npidle = sched.npidle.load(std::memory_order_acquire);
  int32_t n = 0;
  if (npidle > 0) {
    LockGuard lg(sched.lock);
    for (; n < npidle && !list->empty(); n++) {
      G* g = list->pop();
      make_runnable(g);
      globrunqput(g);
    }
  }
  if (n > 0) start_idle(n);
  while (G* g = list->pop()) {
    make_runnable(g);
    runqput(pp, g, false);
  }
}

// Records that the network was just polled (without blocking): lastpoll is when the last
// poll ended, so that sysmon and the every-61st-tick check poll only a network nobody has
// polled for 10 ms. By CAS from the value read, never a store (the essay at the top): 0
// means an M is blocked in the poller and must stay 0. Go leaves lastpoll alone here, so
// its sysmon polls every 10 ms while every P is busy although they poll all the time,
// and sends what it finds through the global queue (bench/proxy rr-256 measured -10%
// round trips/s and +15% CPU per round trip that way, against -1% CPU with this).
void note_poll() {
  int64_t last = sched.lastpoll.load(std::memory_order_relaxed);
  if (last != 0)
    sched.lastpoll.compare_exchange_strong(last, nanotime(), std::memory_order_acq_rel);
}

// Polls the network without blocking; one M at a time. Returns a goroutine to run.
G* poll_nonblocking(M* mp) {
  Poller* poller = sched.poller.load(std::memory_order_acquire);
  if (!poller->has_waiters() || sched.lastpoll.load(std::memory_order_acquire) == 0) {
    return nullptr;
  }
  if (sched.polling_nonblocking.exchange(true, std::memory_order_acquire)) return nullptr;
  GList list;
  poller->poll(0, &list);
  sched.polling_nonblocking.store(false, std::memory_order_release);
  note_poll();
  if (list.empty()) return nullptr;
  G* g = list.pop();
  inject_glist(mp, &list);
  make_runnable(g);
  return g;
}

// Tries to steal a goroutine or run other Ps' timers. *poll_until is lowered to the
// earliest timer seen; *new_work is set when timers readied goroutines onto our queue.
G* steal_work(M* mp, int64_t* now, int64_t* poll_until, bool* new_work) {
  P* pp = mp->p;
  constexpr int kStealTries = 4;
  const auto n = static_cast<uint32_t>(sched.procs);
  for (int i = 0; i < kStealTries; i++) {
    const bool last = i == kStealTries - 1;
    const uint32_t start = fastrand(mp) % n;
    for (uint32_t k = 0; k < n; k++) {
      P* p2 = sched.allp[(start + k) % n];
      if (p2 == pp) continue;
      if (last) {
        // Run p2's expired timers: p2 may be idle, or busy with a goroutine that does
        // not yield; either way the timers are due.
        int64_t w = p2->timers.next_when();
        if (w != 0) {
          if (*now == 0) *now = nanotime();
          if (w <= *now) {
            if (p2->timers.run_expired(*now) > 0) {
              if (G* g = runqget(pp)) return g;
              *new_work = true;
            }
            w = p2->timers.next_when();
          }
          if (w != 0 && (*poll_until == 0 || w < *poll_until)) *poll_until = w;
        }
      }
      if (G* g = runqsteal(pp, p2, last)) return g;
    }
  }
  return nullptr;
}

// After giving up the P: is there work anywhere? Returns an idle P to take it with.
P* check_runqs_no_p() {
  for (P* p2 : sched.allp) {
    if (!runq_empty(p2)) {
      LockGuard lg(sched.lock);
      return pidleget();
    }
  }
  return nullptr;
}

void stopm(M* mp);

// Counts the Ms in a blocking poll. lastpoll lets one in at a time; two would mean a
// wake_poller() that wakes one of them while the other sleeps through its timer.
void note_blocked_poller(int32_t delta) {
  const int32_t n = sched.blocked_pollers.fetch_add(delta, std::memory_order_acq_rel) + delta;
  if (delta < 0) return;
  int32_t max = sched.max_blocked_pollers.load(std::memory_order_relaxed);
  while (n > max && !sched.max_blocked_pollers.compare_exchange_weak(max, n)) {
  }
  PW_CHECK(n == 1, "find_runnable: %d Ms blocked in the poller at once", n);
}

// Finds a goroutine to run, blocking until there is one. Returns null at shutdown.
G* find_runnable(M* mp) {
  constexpr int64_t kStarvedPollNs = 10'000'000;  // Go's sysmon polls after 10ms
top:
  if (sched.shutdown.load(std::memory_order_acquire)) return nullptr;
  P* pp = mp->p;
  int64_t now = 0;
  int64_t poll_until = check_timers(pp, &now);

  if (pp->schedtick % 61 == 0) {
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
      LockGuard lg(sched.lock);
      if (G* g = globrunqget(pp, 1)) return g;
    }
    // Without this a P that always has local work would poll the network only through
    // sysmon (sysmon.cpp); this catches it sooner when its goroutines yield.
    int64_t last = sched.lastpoll.load(std::memory_order_relaxed);
    if (last != 0) {
      if (now == 0) now = nanotime();
      if (now - last > kStarvedPollNs) {
        if (G* g = poll_nonblocking(mp)) {
          if (auto hook = test_hooks.after_starved_poll.load(std::memory_order_acquire)) hook();
          // Record the poll only if lastpoll is still what we read: if another M has set
          // it to 0 meanwhile, that M is blocked in the poller and lastpoll must stay 0
          // until it returns, or a second idle M would block there too (Go's CAS).
          sched.lastpoll.compare_exchange_strong(last, now, std::memory_order_acq_rel);
          return g;
        }
      }
    }
  }
  if (G* g = runqget(pp)) return g;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    LockGuard lg(sched.lock);
    if (G* g = globrunqget(pp, 0)) return g;
  }
  if (G* g = poll_nonblocking(mp)) return g;

  // Spin: steal. Limit spinning Ms to half the busy Ps, so that many idle Ms do not
  // burn CPU fighting over little work.
  if (mp->spinning || 2 * sched.nmspinning.load(std::memory_order_acquire) <
                          sched.procs - sched.npidle.load(std::memory_order_acquire)) {
    if (!mp->spinning) become_spinning(mp);
    bool new_work = false;
    if (G* g = steal_work(mp, &now, &poll_until, &new_work)) return g;
    if (new_work) goto top;
  }

  // Nothing to do: give up the P.
  sched.lock.lock();
  if (sched.shutdown.load(std::memory_order_acquire)) {
    sched.lock.unlock();
    return nullptr;
  }
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    G* g = globrunqget(pp, 0);
    sched.lock.unlock();
    return g;
  }
  releasep(mp);
  pidleput(pp);
  sched.lock.unlock();

  // The delicate part: a wakep() that ran while we were spinning did not start another
  // M, counting on us; one that ran while we held our P saw no idle P. So after our P is
  // idle and we no longer count as spinning, look at every queue once more; whoever adds
  // work after this point sees an idle P and nmspinning == 0, and wakes an M. A
  // non-spinning M looks too (the essay at the top: we may have declined to spin on a
  // count that no longer stands for anyone looking).
  const bool was_spinning = mp->spinning;
  if (mp->spinning) {
    mp->spinning = false;
    int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
    PW_CHECK(n > 0, "find_runnable: negative nmspinning");
  }
  // Store-load (Dekker) fence, pairing with wakep's: we made our P idle and stopped
  // counting as spinning, now we read every run queue; a producer published its work and
  // then read npidle and nmspinning. The RMWs above are acq_rel, which does not keep the
  // loads below from being satisfied before they are visible: only a seq_cst fence does,
  // in C++ as in the hardware's terms. With it, either the producer saw our idle P and
  // nobody spinning and started an M, or we see its work here.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (P* p2 = check_runqs_no_p()) {
    acquirep(mp, p2);
    become_spinning(mp);
    goto top;
  }
  if (was_spinning) poll_until = check_timers_no_p(poll_until);

  // Block in the poller until the earliest timer, if no other M does already.
  Poller* poller = sched.poller.load(std::memory_order_acquire);
  if (!test_hooks.skip_blocking_poll.load(std::memory_order_relaxed) &&
      (poller->has_waiters() || poll_until != 0) &&
      sched.lastpoll.exchange(0, std::memory_order_acq_rel) != 0) {
    sched.poll_until.store(poll_until, std::memory_order_release);
    int64_t delay = -1;
    if (poll_until != 0) {
      if (now == 0) now = nanotime();
      delay = poll_until - now;
      if (delay < 0) delay = 0;
    }
    GList list;
    note_blocked_poller(+1);
    poller->poll(delay, &list);
    note_blocked_poller(-1);
    now = nanotime();
    sched.poll_until.store(0, std::memory_order_release);
    sched.lastpoll.store(now, std::memory_order_release);
    P* p2;
    {
      LockGuard lg(sched.lock);
      p2 = pidleget();
    }
    if (p2 == nullptr) {
      inject_glist(mp, &list);
    } else {
      acquirep(mp, p2);
      if (!list.empty()) {
        G* g = list.pop();
        inject_glist(mp, &list);
        make_runnable(g);
        return g;
      }
      if (was_spinning) become_spinning(mp);
      goto top;
    }
  } else if (poll_until != 0) {
    // Another M is in the poller: make sure it wakes up in time for our timer.
    int64_t pu = sched.poll_until.load(std::memory_order_acquire);
    if (pu == 0 || pu > poll_until) poller->wake();
  }
  stopm(mp);
  if (sched.shutdown.load(std::memory_order_acquire)) return nullptr;
  goto top;
}

// ---- Running goroutines ----------------------------------------------------------------

constexpr unsigned char kStackPaint = 0xA5;

// With measure_stacks: how deep did the goroutine's stack go? The lowest byte that no
// longer holds the paint (new_goroutine filled the stack with it).
void record_stack_use(const G* g) {
  const auto* p = reinterpret_cast<const unsigned char*>(g->stack.lo);
  size_t untouched = 0;
  while (untouched < g->stack.size && p[untouched] == kStackPaint) untouched++;
  const size_t used = g->stack.size - untouched;
  size_t prev = sched.max_stack_used.load(std::memory_order_relaxed);
  while (used > prev && !sched.max_stack_used.compare_exchange_weak(prev, used)) {
  }
}

// runnable -> running. Only whoever took g off a run queue makes this transition, so it
// is a plain store (an atomic RMW costs ~10ns on some CPUs, and this is on every switch);
// Debug builds check the precondition.
void set_running(G* g) {
  PW_DCHECK(g->status.load(std::memory_order_relaxed) == GStatus::runnable,
            "goroutine %llu is %s, not runnable", static_cast<unsigned long long>(g->id),
            to_string(g->status.load(std::memory_order_relaxed)));
  g->status.store(GStatus::running, std::memory_order_relaxed);
}

void execute(M* mp, G* g) {
  set_running(g);
  ensure_stack(g);  // its stack pages may have been released while it idled
  mp->curg = g;
  mp->p->schedtick++;
  gogo(mp, &mp->g0_sp, g, false);
}

// On g0, after a goroutine switched back: carry out its request. Returns the goroutine
// to resume at once (a park whose commit declined), or null.
G* finish_handoff(M* mp) {
  G* g = mp->handoff_g;
  const Handoff h = mp->handoff;
  mp->handoff = Handoff::none;
  mp->handoff_g = nullptr;
  mp->curg = nullptr;
  switch (h) {
    case Handoff::park:
      g->status.store(GStatus::waiting, std::memory_order_release);
      if (!mp->commit(g, mp->commit_arg)) {
        // Not published anywhere, so still ours: resume it.
        g->status.store(GStatus::runnable, std::memory_order_release);
        return g;
      }
      return nullptr;
    case Handoff::yield:
      g->status.store(GStatus::runnable, std::memory_order_release);
      runqput(mp->p, g, false);
      return nullptr;
    case Handoff::exit:
      if (sched.measure_stacks) record_stack_use(g);
      mp->p->exited.store(mp->p->exited.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
      gfput(mp->p, g);
      return nullptr;
    case Handoff::none: break;
  }
  fatal("finish_handoff: a goroutine switched to g0 without a request");
}

// The scheduler loop of an M, on its g0. Returns at shutdown.
void schedule(M* mp) {
  for (;;) {
    G* g = find_runnable(mp);
    if (g == nullptr) return;
    if (mp->spinning) reset_spinning(mp);
    do {
      execute(mp, g);
      g = finish_handoff(mp);
    } while (g != nullptr);
  }
}

// ---- Ms --------------------------------------------------------------------------------

void mstart(M* mp) {
  setm(mp);
  mp->tid = static_cast<int32_t>(gettid());
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    mp->g0_stack_lo = addr;
    mp->g0_stack_size = size;
    pthread_attr_destroy(&attr);
  }
  mp->tsan_g0_fiber = san::fiber_current();
  setup_signal_stack(mp);
  P* pp = mp->nextp;
  mp->nextp = nullptr;
  acquirep(mp, pp);
  schedule(mp);
  teardown_signal_stack(mp);
  setm(nullptr);
}

struct MThread {
  M* m;
  std::thread thread;
};
std::vector<MThread*> mthreads;  // guarded by sched.lock

void startm(P* pp, bool spinning);

// wakep counted an M as spinning, and startm found no idle P to start it with: the count
// stood for an M that will never exist, and an M that read it may have declined to spin
// and given up its P since, counting on it; a producer may have seen it too and started
// nobody. So give it back as a spinning M gives up (find_runnable), and look at every run
// queue once more (the essay at the top).
void give_back_spinning_count() {
  int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
  PW_CHECK(n > 0, "startm: negative nmspinning");
  std::atomic_thread_fence(std::memory_order_seq_cst);  // find_runnable's, after its decrement
  if (P* p2 = check_runqs_no_p()) {
    sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
    startm(p2, true);
  }
}

// Starts an M (an idle one, or a new thread) to run pp, or an idle P if pp is null.
void startm(P* pp, bool spinning) {
  sched.lock.lock();
  if (sched.shutdown.load(std::memory_order_acquire)) {
    if (pp) pidleput(pp);
    sched.lock.unlock();
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  if (pp == nullptr) {
    pp = pidleget();
    if (pp == nullptr) {
      sched.lock.unlock();
      if (spinning) give_back_spinning_count();
      return;
    }
  }
  M* nmp = mget();
  if (nmp == nullptr) {
    // Reserve the M under the lock, create its thread after: clone() and the mmap of a
    // thread stack take tens of microseconds, during which every M that needs sched.lock
    // (run queue, idle lists, stopm) would wait (Go's startm does the same: mReserveID,
    // unlock, newm). runtime_stop waits for mstarting to drop to 0 before it joins.
    nmp = new M();
    nmp->id = static_cast<int64_t>(sched.allm.size());
    nmp->rand_state = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(nmp->id + 1);
    nmp->spinning = spinning;
    nmp->nextp = pp;
    sched.allm.push_back(nmp);
    auto* mt = new MThread{nmp, {}};
    sched.mstarting++;
    sched.lock.unlock();
    if (auto hook = test_hooks.before_newm.load(std::memory_order_acquire)) hook();
    try {
      mt->thread = std::thread([nmp] { mstart(nmp); });
    } catch (const std::system_error& e) {
      fatal("startm: cannot create an OS thread: %s", e.what());
    }
    LockGuard lg(sched.lock);
    mthreads.push_back(mt);
    sched.mstarting--;
    return;
  }
  sched.lock.unlock();
  nmp->spinning = spinning;
  nmp->nextp = pp;
  nmp->park.wakeup();
}

void start_idle(int32_t n) {
  for (; n > 0 && sched.npidle.load(std::memory_order_acquire) != 0; n--) startm(nullptr, false);
}

// For callers without a P (other threads): put g on the global queue and start an M for
// an idle P, unconditionally. wakep() would not do: it relies on a spinning M to find the
// work, and a spinning M re-checks only local queues after it stops spinning. (Go never
// needs this because its ready() always runs with a P.) If no P is idle, every P is held
// by an M that looks at the global queue, under sched.lock, before it lets its P go.
void globrunqput_and_start(G* g) {
  {
    LockGuard lg(sched.lock);
    globrunqput(g);
  }
  start_idle(1);
}

// Puts the M to sleep until startm hands it a P (or shutdown).
void stopm(M* mp) {
  PW_CHECK(mp->p == nullptr, "stopm: M holds a P");
  PW_CHECK(!mp->spinning, "stopm: M is spinning");
  {
    LockGuard lg(sched.lock);
    mput(mp);
  }
  mp->park.sleep();
  mp->park.clear();
  if (mp->nextp) {
    P* pp = mp->nextp;
    mp->nextp = nullptr;
    acquirep(mp, pp);
  }
}

// The default poller: nothing to poll, so it only sleeps until the next timer or wake().
class SleepPoller final : public Poller {
 public:
  void poll(int64_t timeout_ns, GList*) override {
    if (timeout_ns == 0) return;
    if (woken_.exchange(0, std::memory_order_acq_rel) == 1) return;
    futex_wait(&woken_, 0, timeout_ns);
    woken_.store(0, std::memory_order_release);
  }
  void wake() override {
    if (woken_.exchange(1, std::memory_order_acq_rel) == 0) futex_wake(&woken_, 1);
  }
  bool has_waiters() const override { return false; }

 private:
  std::atomic<uint32_t> woken_{0};
};

SleepPoller sleep_poller;

size_t cpu_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<size_t>(CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<size_t>(n) : 1;
}

std::atomic<uint64_t> spawned_without_p{0};

}  // namespace

// ---- sysmon's work (sysmon.cpp) ---------------------------------------------------------

bool sysmon_poll_network(int64_t now, int64_t starved_ns) {
  int64_t last = sched.lastpoll.load(std::memory_order_acquire);
  if (last == 0 || now - last <= starved_ns) return false;  // blocked in it, or polled lately
  Poller* poller = sched.poller.load(std::memory_order_acquire);
  if (!poller->has_waiters()) return false;
  // Take the poll as Go's sysmon does: a CAS from the value read, so that an M that has
  // meanwhile blocked in the poller (lastpoll = 0) keeps the only token.
  if (!sched.lastpoll.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return false;
  if (sched.polling_nonblocking.exchange(true, std::memory_order_acquire)) return false;
  GList list;
  poller->poll(0, &list);
  sched.polling_nonblocking.store(false, std::memory_order_release);
  if (list.empty()) return false;
  inject_glist(nullptr, &list);  // global queue, and Ms started for idle Ps
  return true;
}

bool sysmon_start_m_for_timers(int64_t now) {
  if (sched.npidle.load(std::memory_order_acquire) == 0) return false;
  const int64_t next = check_timers_no_p(0);
  if (next == 0 || next > now) return false;
  startm(nullptr, false);  // it steals, and runs other Ps' expired timers as it does
  return true;
}

// ---- Interfaces used by other parts of the runtime ------------------------------------

void wakep() {
  // Store-load (Dekker) fence, pairing with the one in find_runnable after a spinning M
  // drops nmspinning. The caller has just published work: a goroutine in runnext or the
  // run queue (release stores), or a timer on a heap (released with its lock). We then
  // read nmspinning; the spinning M does the mirror image, decrements nmspinning and then
  // reads every run queue and heap. Release and acquire order neither store before the
  // load that follows it, so without a full fence on both sides each could miss the
  // other: no new M started, and the work left for a P that is busy or about to sleep.
  // Go gets this from its atomics being sequentially consistent; on x86-64 this is one
  // `lock or` (g++), as cheap as the RMW that happened to order it before.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.npidle.load(std::memory_order_acquire) == 0) return;
  // Only one spinning M at a time (see the essay at the top).
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_acquire) != 0 ||
      !sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) {
    return;
  }
  startm(nullptr, true);
}

TimerHeap* current_timer_heap() {
  M* mp = getm();
  if (mp && mp->p) return &mp->p->timers;
  return &sched.allp[0]->timers;
}

void wake_poller(int64_t when) {
  // Store-load fence: the timer was added to its heap (released with the heap's lock)
  // and is published before we read lastpoll and poll_until; the M that blocks in the
  // poller reads the heaps, then takes lastpoll with an exchange (a seq_cst RMW) and
  // stores poll_until. Whichever way the two interleave, either it saw our timer, or we
  // see lastpoll == 0 and a poll_until to compare (or none: then we wake it anyway).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.lastpoll.load(std::memory_order_acquire) == 0) {
    int64_t pu = sched.poll_until.load(std::memory_order_acquire);
    if (pu == 0 || pu > when) sched.poller.load(std::memory_order_acquire)->wake();
  } else {
    // Nobody is in the poller; make sure some M looks at the timers.
    wakep();
  }
}

void install_poller(Poller* p) {
  Poller* old = sched.poller.exchange(p, std::memory_order_acq_rel);
  if (old && old != p) old->wake();
}

Poller* current_poller() { return sched.poller.load(std::memory_order_acquire); }

G* current_g() {
  M* mp = getm();
  return mp ? mp->curg : nullptr;
}

uint64_t goid(const G* g) { return g->id; }

void park(ParkCommit commit, void* arg) {
  M* mp = getm();
  PW_CHECK(mp && mp->curg, "park called outside a goroutine");
  mcall(Handoff::park, commit, arg);
}

void ready(G* g) {
  make_runnable(g);
  M* mp = getm();
  if (mp && mp->p) {
    runqput(mp->p, g, true);
    wakep();
  } else {
    globrunqput_and_start(g);
  }
}

namespace detail {

G* new_goroutine() {
  PW_CHECK(!sched.allp.empty(), "go() called with no parkway::Runtime alive");
  M* mp = getm();
  P* pp = mp ? mp->p : nullptr;
  G* g = gfget(pp);
  if (g == nullptr) {
    g = new G();
    g->stack = sched.stacks.allocate();
    g->tsan_fiber = san::fiber_create();
    sched.allg.add(g);  // never waits for sysmon's scan, which takes no lock
  }
  g->id = new_goid(pp);
  g->status.store(GStatus::idle, std::memory_order_relaxed);
  g->stack_private.store(false, std::memory_order_relaxed);
  g->io_slot.store(nullptr, std::memory_order_relaxed);
  san::unpoison(g->stack.lo, g->stack.size);
  if (sched.measure_stacks) std::memset(g->stack.lo, kStackPaint, g->stack.size);
  return g;
}

void* goroutine_stack_top(G* g) { return g->stack.hi(); }

void discard_goroutine(G* g) {
  M* mp = getm();
  if (mp && mp->p) {
    gfput(mp->p, g);
  } else {
    g->status.store(GStatus::dead, std::memory_order_relaxed);
    LockGuard lg(sched.gfree_lock);
    g->schedlink = sched.gfree_dirty;
    sched.gfree_dirty = g;
    sched.gfree_dirty_n++;
  }
}

void start_goroutine(G* g, void (*entry)(void*), void* arg, void* stack_top) {
  g->entry = entry;
  g->entry_arg = arg;
  g->sp = ctx_make(stack_top, &goroutine_main, g);
  g->status.store(GStatus::runnable, std::memory_order_release);
  M* mp = getm();
  if (mp && mp->p) {
    P* pp = mp->p;
    pp->spawned.store(pp->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    runqput(pp, g, true);
    wakep();
  } else {
    spawned_without_p.fetch_add(1, std::memory_order_relaxed);
    globrunqput_and_start(g);
  }
}

}  // namespace detail

// ---- Public API (runtime.h), implemented here; runtime.cpp forwards to it -------------

void yield_impl() {
  M* mp = getm();
  if (mp == nullptr || mp->curg == nullptr) {
    sched_yield();
    return;
  }
  G* g = mp->curg;
  P* pp = mp->p;
  // Fast path: hand the CPU straight to the next goroutine on this P, one context switch
  // instead of two through g0. The slow path keeps the every-61st-tick checks honest.
  if (++pp->schedtick % 61 != 0 && !sched.shutdown.load(std::memory_order_relaxed) &&
      !timers_due(pp)) {
    if (G* next = runqget(pp)) {
      set_running(next);
      ensure_stack(next);
      mp->curg = next;
      mp->handoff = Handoff::yield;
      mp->handoff_g = g;
      gogo(mp, &g->sp, next, false);
      after_switch();
      return;
    }
  }
  mcall(Handoff::yield, nullptr, nullptr);
}

namespace {

void sleep_wake(void* arg, uintptr_t, int64_t) { ready(static_cast<G*>(arg)); }

bool sleep_commit(G* g, void* arg) {
  // Start the timer only now that g is off its stack: the timer may fire at once.
  timer_start(&g->sleep_timer, *static_cast<int64_t*>(arg));
  return true;
}

}  // namespace

void sleep_until_impl(Time t) {
  M* mp = getm();
  if (mp == nullptr || mp->curg == nullptr) {
    std::this_thread::sleep_until(t);
    return;
  }
  int64_t when = to_nanos(t);
  if (when <= nanotime()) return;
  G* g = mp->curg;
  g->sleep_timer.fn = &sleep_wake;
  g->sleep_timer.arg = g;
  park(&sleep_commit, &when);
}

RuntimeStats stats_impl() {
  RuntimeStats s;
  if (sched.allp.empty()) return s;
  uint64_t spawned = spawned_without_p.load(std::memory_order_relaxed);
  uint64_t exited = 0;
  for (P* pp : sched.allp) {
    spawned += pp->spawned.load(std::memory_order_relaxed);
    exited += pp->exited.load(std::memory_order_relaxed);
  }
  s.goroutines = static_cast<int64_t>(spawned - exited);
  s.procs = sched.procs;
  {
    LockGuard lg(sched.lock);
    s.threads = static_cast<int32_t>(sched.allm.size());
    s.idle_threads = sched.nmidle;
  }
  s.stacks = sched.stacks.allocated();
  s.max_stack_used = sched.max_stack_used.load(std::memory_order_relaxed);
  s.idle_stacks_released = sched.stacks_released.load(std::memory_order_relaxed);
  s.idle_stack_bytes_saved = sched.stack_bytes_saved.load(std::memory_order_relaxed);
  s.stack_size = sched.stacks.stack_size();
  {
    LockGuard lg(sched.gfree_lock);
    s.stacks_cached_global = static_cast<size_t>(sched.gfree_dirty_n + sched.gfree_clean_n);
    s.stacks_released = static_cast<size_t>(sched.gfree_clean_n);
  }
  return s;
}

// ---- Runtime lifetime ------------------------------------------------------------------

int runtime_init(const RuntimeOptions& opts) {
  int procs = opts.procs > 0 ? opts.procs : static_cast<int>(cpu_count());
  PW_CHECK(procs <= 1024, "procs = %d is out of range (1..1024)", procs);
  install_stack_overflow_handler();
  sched.stacks.init(opts.stack_size);
  sched.measure_stacks = opts.measure_stacks;
  sched.max_stack_used.store(0);
  sched.procs = procs;
  sched.allp.reserve(static_cast<size_t>(procs));
  LockGuard lg(sched.lock);
  for (int i = 0; i < procs; i++) {
    P* pp = new P();
    pp->id = i;
    sched.allp.push_back(pp);
  }
  // Highest id first, so that pidleget hands out P 0 first.
  for (int i = procs - 1; i >= 0; i--) pidleput(sched.allp[static_cast<size_t>(i)]);
  sched.poller.store(opts.poller ? opts.poller : &sleep_poller, std::memory_order_release);
  sched.lastpoll.store(nanotime(), std::memory_order_release);
  start_sysmon();
  return procs;
}

void runtime_run_main(void (*fn)(void*), void* arg) {
  struct Main {
    void (*fn)(void*);
    void* arg;
    Note done;
  } main{fn, arg, {}};
  go([&main] {
    main.fn(main.arg);
    main.done.wakeup();
  });
  startm(nullptr, false);  // go() has usually started one already; this one is cheap
  main.done.sleep();
}

void runtime_stop() {
  stop_sysmon();
  {
    LockGuard lg(sched.lock);
    sched.shutdown.store(true, std::memory_order_release);
    for (M* mp = sched.midle; mp; mp = mp->schedlink) mp->park.wakeup();
  }
  // No M can be created from here on: startm checks shutdown under the lock. One that
  // got past the check creates its thread outside the lock: wait for it to be listed.
  std::vector<MThread*> threads;
  for (;;) {
    {
      LockGuard lg(sched.lock);
      if (sched.mstarting == 0) {
        threads.swap(mthreads);
        break;
      }
    }
    sched_yield();  // a thread being created: microseconds
  }
  for (MThread* mt : threads) {
    // Wake it wherever it sleeps (its futex or the poller); a Note remembers a wake-up
    // that comes before the sleep, so it cannot miss this one.
    mt->m->park.wakeup();
    sched.poller.load(std::memory_order_acquire)->wake();
    mt->thread.join();
    delete mt;
  }
}

int64_t runtime_destroy() {
  sched.poller.load(std::memory_order_acquire)->forget_runtime();
  int64_t abandoned = 0;
  // sysmon is stopped (runtime_stop), so nobody walks allg any more.
  sched.allg.for_each([&](G* g) {
    GStatus s = g->status.load(std::memory_order_relaxed);
    if (s != GStatus::dead && s != GStatus::idle) abandoned++;
    free_saved_stack(g);
    san::fiber_destroy(g->tsan_fiber);
    delete g;
  });
  sched.allg.clear();
  {
    LockGuard lg(sched.lock);
    for (M* mp : sched.allm) delete mp;
    sched.allm.clear();
    sched.midle = nullptr;
    sched.nmidle = 0;
    sched.pidle = nullptr;
    sched.runq_head = sched.runq_tail = nullptr;
  }
  {
    LockGuard lg(sched.gfree_lock);
    sched.gfree_dirty = sched.gfree_clean = nullptr;
    sched.gfree_dirty_n = sched.gfree_clean_n = 0;
  }
  for (P* pp : sched.allp) delete pp;
  sched.allp.clear();
  sched.stacks.destroy();
  sched.npidle.store(0);
  sched.nmspinning.store(0);
  sched.runqsize.store(0);
  sched.lastpoll.store(0);
  sched.poll_until.store(0);
  sched.polling_nonblocking.store(false);
  sched.poller.store(nullptr);
  sched.shutdown.store(false);
  sched.stacks_released.store(0);
  sched.stack_bytes_saved.store(0);
  sched.idle_stacks_wanted.store(false);
  sched.procs = 0;
  spawned_without_p.store(0);
  return abandoned;
}

}  // namespace parkway::sched
