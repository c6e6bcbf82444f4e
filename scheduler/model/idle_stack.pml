/* scheduler/model/idle_stack.pml: sysmon's freeze/thaw of an idle goroutine against its
 * wakers (scheduler/park.h, idle_stack.cpp), checked with spin by script/model.
 *
 * Processes and the code each step stands for (line numbers as of this model's commit):
 *   Goroutine  waits on a slot as an I/O wait does (tests/scheduler/idle_stack_test.cpp
 *              wait_on; netpoll's block): consume WOKEN by CAS, else park_io
 *              (idle_stack.cpp 165-173): a new sp for this park (alternating between two
 *              depths), io_sp recorded on g0 (io_commit, 157-161), the G waiting
 *              (finish_handoff), commit's CAS NOBODY -> G*. Resumes when readied: the M
 *              first runs ensure_stack/restore_stack (internal/proc.h; idle_stack.cpp
 *              134-142), copying the saved bytes back if the stack was released.
 *   Waker      park.h's waker (idle_stack_test.cpp wake_handing_off; netpoll's unblock):
 *              G* -> WOKEN and ready; kParkSlotBusy -> park_slot_handoff(WOKEN), no ready.
 *   Stopper    sets stop, then wakes once more: the goroutine must see it and end.
 *   Sysmon     scan_idle_stacks (idle_stack.cpp 95-132): io_sp read and the block
 *              allocated before the freeze; CAS G* -> kParkSlotBusy; the check sp == io_sp
 *              once frozen; release (65-73): copy, madvise, stack_state = kReleased; thaw
 *              (78-91): CAS kParkSlotBusy -> G*, or on a hand-off store its value and
 *              ready the goroutine.
 * Checked: no lost wake-up (the goroutine always ends: end states); no double ready and
 * no ready of a goroutine that is not parked (ready asserts WAITING); never resumed while
 * frozen, nor on released pages without its bytes put back, nor with the bytes of
 * another park (assert at resume).
 * Mutations that must fail (script/model): NO_SP_CHECK (release with the io_sp read
 * before the freeze, not checked against sp), THAW_BEFORE_RELEASE (the G* back before
 * the madvise), HANDOFF_NO_READY (sysmon leaves the value but does not ready).
 * MUTATIONS: NO_SP_CHECK THAW_BEFORE_RELEASE HANDOFF_NO_READY
 */

#define NOBODY   0
#define WOKEN    1
#define BUSY     3   /* kParkSlotBusy */
#define HO_WOKEN 5   /* park_slot_handoff(WOKEN) */
#define GPTR     8

#define RUNNING  0
#define WAITING  1
#define RUNNABLE 2

byte slot = NOBODY;
byte gstatus = RUNNING;
byte sp = 1;            /* g->sp at the current park: 1 or 2 */
byte io_sp = 0;         /* G::io_sp */
bool released = false;  /* G::stack_state == kReleased */
bool resident = true;   /* ghost: the stack's pages hold its frames */
byte saved = 0;         /* ghost: the park whose bytes G::saved_stack holds (0: none) */
bool frozen = false;    /* ghost: sysmon holds the G* */
bool stop = false;

inline ready_g() {
  atomic { assert(gstatus == WAITING); assert(!frozen); gstatus = RUNNABLE }
}

inline wake(v, want, ok) {
  v = slot;
  do
  :: (v == WOKEN || v == HO_WOKEN) -> break        /* woken already */
  :: else ->
       want = (v == BUSY -> HO_WOKEN : WOKEN);
       atomic { if :: slot == v -> slot = want; ok = true :: else -> v = slot; ok = false fi };
       if
       :: ok -> if :: v == GPTR -> ready_g() :: else -> skip fi; break
       :: else -> skip
       fi
  od
}

proctype Goroutine() {
  bool ok;
  do
  :: stop -> break
  :: else ->
       atomic { if :: slot == WOKEN -> slot = NOBODY; ok = true :: else -> ok = false fi };
       if
       :: ok -> skip                                    /* woken: look at stop again */
       :: else ->
            sp = 3 - sp;                                /* this park's frame depth */
            atomic { io_sp = sp; gstatus = WAITING };   /* on g0: io_commit, finish_handoff */
            atomic { if :: slot == NOBODY -> slot = GPTR; ok = true :: else -> ok = false fi };
            if :: ok -> (gstatus == RUNNABLE) :: else -> skip fi;
            atomic {                                    /* the M: ensure_stack, then run */
              if
              :: released -> assert(saved == sp); resident = true; released = false; saved = 0
              :: else -> skip
              fi;
              assert(resident);
              assert(!frozen);
              gstatus = RUNNING
            }
       fi
  od
}

proctype Waker() {
  byte v, want;
  bool ok;
  wake(v, want, ok);
  wake(v, want, ok)
}

proctype Stopper() {
  byte v, want;
  bool ok;
  stop = true;
  wake(v, want, ok)
}

proctype Sysmon() {
  byte hint, v;
  bool ok;
  do
  :: break
  :: (gstatus == WAITING && slot == GPTR && !released) ->   /* a candidate */
       hint = io_sp;                                        /* size the block from it */
       atomic { if :: slot == GPTR -> slot = BUSY; frozen = true; ok = true :: else -> ok = false fi };
       if
       :: !ok -> skip
       :: ok ->
#ifdef NO_SP_CHECK
            if :: true ->
#else
            if :: sp == hint ->
#endif
                 saved = hint;                              /* copy [sp, hi) out */
#ifndef THAW_BEFORE_RELEASE
                 resident = false;                          /* madvise(MADV_DONTNEED) */
                 released = true                            /* stack_state = kReleased */
#endif
            :: else -> skip                                 /* parked again since: later */
            fi;
            atomic { if :: slot == BUSY -> slot = GPTR; frozen = false; ok = true :: else -> ok = false fi };
            if
            :: !ok ->
                 atomic { v = slot; assert(v == HO_WOKEN); slot = WOKEN; frozen = false };
#ifndef HANDOFF_NO_READY
                 ready_g()
#else
                 skip
#endif
            :: else -> skip
            fi;
#ifdef THAW_BEFORE_RELEASE
            if :: saved != 0 -> resident = false; released = true :: else -> skip fi
#endif
       fi
  od
}

init {
  atomic { run Goroutine(); run Waker(); run Stopper(); run Sysmon() };
  (_nr_pr == 1);
  assert(gstatus == RUNNING)
}
