/* netpoll/model/poll_desc.pml: the PollDesc rg protocol (one direction; wg is the same
 * code on the other word), checked with spin by script/model.
 *
 * Processes and the code each step stands for (line numbers as of this model's commit):
 *   Waiter   a goroutine in PollDesc::wait -> block (netpoll/poll_desc.cpp 100-107, 80-98):
 *              check_error (55); CAS pdReady->pdNil (84); CAS pdNil->pdWait (86); the
 *              re-check of check_error after pdWait (93); park_io -> finish_handoff sets
 *              the G waiting, then block_commit's CAS pdWait->G* on g0 (block_commit,
 *              add_waiters(1)); the exchange(pdNil) after waking (95) and its check (96).
 *   Poller   NetPoller::dispatch -> PollDesc::on_event -> unblock(ioready=true)
 *              (netpoll.cpp dispatch; poll_desc.cpp 141-153, 109-139), then the scheduler
 *              readies what it returned. Two events, one of them possibly stale (an event
 *              for an earlier FD that passed the fdseq check): to rg a stale readiness is
 *              only a spurious one, so both are the same step here.
 *   Deadline set_deadline(past) and deadline_fired (poll_desc.cpp 174-221): under the
 *              lock, rd = -1, publish_info (30-43), unblock(ioready=false), then ready.
 *   Closer   evict (poll_desc.cpp 223-241): closing = true, publish_info, unblock(false).
 *   Sysmon   the idle-stack freeze/thaw of the waiter (scheduler/idle_stack.cpp
 *              scan_idle_stacks, thaw): CAS G*->kParkSlotBusy, release, then CAS
 *              kParkSlotBusy->G* or, finding a hand-off park_slot_handoff(v), store v and
 *              ready the goroutine (scheduler/park.h).
 * unblock is its load (106) then, per iteration, one CAS: each CAS is one atomic step.
 * The waiter's `wait` loops until it gets an error (deadline or close): every other
 * process ends, so a waiter left parked is an invalid end state: a lost wake-up.
 *
 * Checked: no lost wake-up (end states); no double ready and no ready of a goroutine that
 * is not parked (ready asserts WAITING); the goroutine never runs while frozen; the slot
 * never holds a value block() rejects after a wake-up (assert v <= WAIT); the waiter
 * count (netpollWaiters) ends at 0.
 * The model is sequentially consistent: the C++ code gets that for these words from
 * seq_cst operations (info, rg/wg), which is what it relies on.
 *
 * Mutations that must fail (script/model builds each with -DNAME): NO_RECHECK drops the
 * re-check after pdWait (93), so a deadline or close that lands in between is lost;
 * HANDOFF_NO_READY makes sysmon leave a hand-off's value without readying the goroutine.
 * MUTATIONS: NO_RECHECK HANDOFF_NO_READY
 */

#define NIL      0
#define READY    1
#define WAIT     2
#define BUSY     3   /* kParkSlotBusy */
#define HO_NIL   4   /* park_slot_handoff(pdNil) */
#define HO_READY 5   /* park_slot_handoff(pdReady) */
#define GPTR     8   /* the waiter's G* */

#define RUNNING  0
#define WAITING  1
#define RUNNABLE 2

byte rg = NIL;
bool closing = false;   /* info: kClosing */
bool expired = false;   /* info: kReadExpired */
byte gstatus = RUNNING;
bool frozen = false;    /* ghost: sysmon holds the waiter */
byte waiters = 0;       /* NetPoller::waiters_ */
byte readies = 0;       /* ghost: how many times the waiter was readied */

inline ready_g() {
  atomic { assert(gstatus == WAITING); assert(!frozen); gstatus = RUNNABLE; readies++ }
}

/* PollDesc::unblock(ioready), then ready() of what it returned. old/want/took: locals
 * of the calling process (an inline cannot declare them twice). */
inline unblock(ioready, old, want, took) {
  old = rg;
  do
  :: if
     :: (old == HO_NIL || old == HO_READY) ->
          if
          :: (old == HO_READY || !ioready) -> break
          :: else ->
               atomic { if :: rg == old -> rg = HO_READY; took = true :: else -> old = rg; took = false fi };
               if :: took -> break :: else -> skip fi
          fi
     :: (old == READY) -> break
     :: (old == NIL && !ioready) -> break
     :: else ->
          want = (ioready -> READY : NIL);
          if :: old == BUSY -> want = (ioready -> HO_READY : HO_NIL) :: else -> skip fi;
          atomic { if :: rg == old -> rg = want; took = true :: else -> old = rg; took = false fi };
          if
          :: took ->
               if
               :: old == GPTR -> waiters--; ready_g()
               :: old == BUSY -> waiters--       /* handed off: sysmon readies it */
               :: else -> skip                   /* pdNil, or pdWait: its commit fails */
               fi;
               break
          :: else -> skip
          fi
     fi
  od
}

proctype Waiter() {
  byte v;
  bool ok;
wait:
  if :: (closing || expired) -> goto done :: else -> skip fi;    /* check_error */
block:
  do
  :: atomic { if :: rg == READY -> rg = NIL; ok = true :: else -> ok = false fi };
     if :: ok -> goto wait :: else -> skip fi;                  /* readiness consumed */
     atomic { if :: rg == NIL -> rg = WAIT; ok = true :: else -> ok = false fi };
     if :: ok -> break :: else -> skip fi;
     v = rg;
     assert(v == READY || v == NIL)                             /* "two goroutines wait" */
  od;
#ifndef NO_RECHECK
  if :: (closing || expired) -> goto woken :: else -> skip fi;  /* the re-check (87) */
#endif
  gstatus = WAITING;                                            /* finish_handoff */
  atomic { if :: rg == WAIT -> rg = GPTR; waiters++; ok = true :: else -> ok = false fi };
  if
  :: ok -> (gstatus == RUNNABLE)                                /* parked until readied */
  :: else -> skip                                               /* commit declined */
  fi;
  atomic { assert(!frozen); gstatus = RUNNING };                /* resumes */
woken:
  atomic { v = rg; rg = NIL };
  assert(v <= WAIT);                                            /* "corrupted PollDesc" */
  if :: v == READY -> goto wait :: else -> skip fi;
  if :: (closing || expired) -> goto done :: else -> goto block fi;
done:
  skip
}

proctype Poller() {
  byte old, want;
  bool took;
  unblock(true, old, want, took);  /* a readiness event */
  unblock(true, old, want, took)   /* another, or a stale one for an earlier FD */
}

proctype Deadline() {
  byte old, want;
  bool took;
  atomic { expired = true };       /* rd = -1; publish_info */
  unblock(false, old, want, took)
}

proctype Closer() {
  byte old, want;
  bool took;
  atomic { closing = true };       /* closing = true; publish_info */
  unblock(false, old, want, took)
}

proctype Sysmon() {
  byte v;
  bool ok;
  do
  :: atomic { if :: rg == GPTR -> rg = BUSY; frozen = true; ok = true :: else -> ok = false fi };
     if
     :: ok ->
          assert(gstatus == WAITING);   /* only a parked goroutine is frozen */
          skip;                         /* copy the live bytes out, madvise */
          atomic { if :: rg == BUSY -> rg = GPTR; frozen = false; ok = true :: else -> ok = false fi };
          if
          :: !ok ->                     /* a waker handed off: leave its value, ready */
               atomic { v = rg; assert(v == HO_NIL || v == HO_READY); rg = v - 4; frozen = false };
#ifndef HANDOFF_NO_READY
               ready_g()
#else
               skip
#endif
          :: else -> skip
          fi
     :: else -> skip
     fi
  :: break
  od
}

init {
  atomic {
    run Waiter();
    run Poller();
    run Deadline();
    run Closer();
    run Sysmon()
  };
  (_nr_pr == 1);                 /* everyone else has ended */
  assert(waiters == 0);
  assert(gstatus == RUNNING)
}
