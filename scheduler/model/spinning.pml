/* scheduler/model/spinning.pml: the spinning-M handshake that keeps a wake-up from being
 * lost (scheduler/proc.cpp: the essay at the top, wakep, startm, find_runnable), checked
 * with spin by script/model.
 *
 * The setting is the one the ping-pong test builds (tests/scheduler/scheduler_test.cpp,
 * "ping-pong between goroutines on different Ps"): two Ps. P0 is held for good by the
 * Producer, a goroutine that never yields; it readies the Consumer goroutine into P0's
 * runnext, then busy-waits until the Consumer has run, twice. The Consumer can
 * only run on P1, so some M holding P1 must steal it every time.
 *
 * Processes and the code each step stands for (function names in scheduler/proc.cpp):
 *   Producer  ready(): runqput into runnext, then wakep(): the seq_cst fence, npidle,
 *             nmspinning, the CAS of nmspinning from 0 to 1, and startm(nullptr, true):
 *             under sched.lock pidleget (P1 if idle) and mget (an idle M, or a new
 *             thread: M3 to M5 stand for them), after the lock the hand-over (nextp, spinning)
 *             and the wake-up. With no idle P, give_back_spinning_count: the count given
 *             back, then a look at the run queues (check_runqs_no_p) and, if there is
 *             work and P1 is idle, startm(P1, true).
 *   M(id)     schedule() and find_runnable(): the spin decision (nmspinning, then npidle,
 *             two loads), become_spinning, steal_work's steal of runnext; the give-up
 *             under sched.lock (releasep, pidleput); after it, a spinning M drops its
 *             count, and every M looks at the run queues once more (check_runqs_no_p:
 *             P1 back if there is work, then spin); stopm (mput, sleep, nextp). An M
 *             that steals the Consumer runs it: reset_spinning (with its wakep), the
 *             Consumer's round, then find_runnable again.
 * Every step is atomic only where the code makes it so (a CAS, a locked section); the
 * model's interleavings are sequentially consistent, as the seq_cst fences in wakep, in
 * find_runnable after the give-up and in give_back_spinning_count make the code.
 * Checked: the Producer always ends (an invalid end state is a wake-up lost for good:
 * the Consumer in runnext, every M asleep); nmspinning and npidle never go negative.
 * Mutations that must fail (script/model): GO_RECHECK (only an M that was spinning
 * looks again, as in Go: an M declines to spin on wakep's count for an M it could not
 * start, or on a spinning M that has since found its work, gives up P1 without looking,
 * and the Consumer waits in P0's runnext for ever; seen under qemu in CI),
 * The look in give_back_spinning_count is modelled, as the code has it, but this model
 * cannot show it is needed: it matters with a third P (a wakep from reset_spinning that
 * saw P2 idle and lost it; an M gives up P2 on the stale count, looking before the
 * Producer publishes; the Producer sees the count and wakes nobody; the M that counted
 * runs a goroutine that never yields on P1), and three Ps are more states than
 * script/model should spend.
 * MUTATIONS: GO_RECHECK
 */

#define NM 6   /* M1..M5 (index 0 unused): M3..M5 are threads startm may create */
#define ROUNDS 2

byte runnext = 0;        /* the Consumer in P0's runnext */
byte consumed = 0;       /* rounds the Consumer has run */
bool p1_idle = false;    /* P1 on the idle list */
short npidle = 0;
short nmspinning = 0;
bool locked = false;     /* sched.lock */

bool has_p[NM];          /* M holds P1 */
bool spinning[NM];
bool in_midle[NM];
bool woken[NM];          /* M::park: startm handed it P1 */
bool created[NM];        /* the thread exists (M3..M5 only once startm created them) */

inline lock() { atomic { !locked -> locked = true } }
inline unlock() { locked = false }

inline become_spinning(id) {
  atomic { spinning[id] = true; nmspinning++ }
}

/* pidleget, under the lock: P1 if it is idle. */
inline pidleget(got) {
  if
  :: p1_idle -> p1_idle = false; npidle--; got = true
  :: else -> got = false
  fi
}

/* check_runqs_no_p: work in P0's runnext? Then P1, if idle. */
inline check_runqs(got) {
  if
  :: runnext > 0 -> lock(); pidleget(got); unlock()
  :: else -> got = false
  fi
}

/* startm(pp, true) with P1 taken: to an idle M (or a new thread), spinning. */
inline hand_p1(m) {
  if
  :: in_midle[1] -> m = 1
  :: in_midle[2] -> m = 2
  :: in_midle[3] -> m = 3
  :: in_midle[4] -> m = 4
  :: in_midle[5] -> m = 5
  :: else ->                                  /* no idle M: a new thread */
       if
       :: !created[3] -> m = 3
       :: else -> if :: !created[4] -> m = 4 :: else -> assert(!created[5]); m = 5 fi
       fi;
       created[m] = true
  fi;
  in_midle[m] = false;
  unlock();
  atomic { spinning[m] = true; woken[m] = true }
}

/* startm(nullptr, true): P1 to an idle M (or a new thread), spinning. */
inline startm_spinning(got, m) {
  lock();
  pidleget(got);
  if
  :: got -> hand_p1(m)
  :: else ->
       unlock();
       nmspinning--;                               /* give_back_spinning_count */
       assert(nmspinning >= 0);
       check_runqs(got);
       if
       :: got -> nmspinning++; lock(); hand_p1(m)   /* startm(P1, true) */
       :: else -> skip
       fi
  fi
}

inline wakep(got, m, n) {
  if
  :: npidle == 0 -> skip
  :: else ->
       n = nmspinning;
       if
       :: n != 0 -> skip
       :: else ->
            atomic {
              if
              :: nmspinning == 0 -> nmspinning = 1; got = true
              :: else -> got = false
              fi
            };
            if :: got -> startm_spinning(got, m) :: else -> skip fi
       fi
  fi
}

proctype Producer() {
  bool got;
  byte m, n, round = 0;
  do
  :: round < ROUNDS ->
       runnext = 1;                                /* ready(Consumer): runqput(next) */
       wakep(got, m, n);
       round++;
       (consumed == round)                         /* busy-waits, never yields */
  :: else -> break
  od
}

proctype M(byte id) {
  bool got, ok, was_spinning;
  byte m, n;
  short np;
  if
  :: has_p[id] -> goto top
  :: else -> goto end_sleep
  fi;
top:
  /* Nothing in P1's queues, the global queue or the network. May it spin? */
  n = nmspinning;
  np = npidle;
  if
  :: spinning[id] || 2 * n < 2 - np ->
       if :: !spinning[id] -> become_spinning(id) :: else -> skip fi;
       atomic { if :: runnext > 0 -> runnext = 0; got = true :: else -> got = false fi };
       if :: got -> goto running :: else -> skip fi
  :: else -> skip
  fi;
  /* Give up P1. */
  lock();
  atomic { has_p[id] = false; p1_idle = true; npidle++ };
  unlock();
  was_spinning = spinning[id];
  if
  :: spinning[id] -> atomic { spinning[id] = false; nmspinning--; assert(nmspinning >= 0) }
  :: else -> skip
  fi;
#ifdef GO_RECHECK
  if :: was_spinning -> check_runqs(got) :: else -> got = false fi;
#else
  check_runqs(got);
#endif
  if
  :: got -> has_p[id] = true; become_spinning(id); goto top
  :: else -> skip
  fi;
  lock();
  in_midle[id] = true;
  unlock();
end_sleep:
  woken[id];                                       /* stopm: until startm hands it P1 */
  atomic { woken[id] = false; has_p[id] = true };
  goto top;
running:
  if
  :: spinning[id] ->                               /* reset_spinning */
       atomic { spinning[id] = false; nmspinning--; assert(nmspinning >= 0) };
       wakep(got, m, n)
  :: else -> skip
  fi;
  consumed++;                                      /* the Consumer's round; it parks */
  goto top
}

init {
  atomic {
    has_p[1] = true;                               /* M1 holds P1, M2 sleeps in stopm */
    created[1] = true;
    created[2] = true;
    in_midle[2] = true;
    run Producer();
    run M(1);
    run M(2);
    run M(3);                                      /* asleep until created and woken */
    run M(4);
    run M(5)
  }
}
