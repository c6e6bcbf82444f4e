/* netpoll/model/event_err.pml: a stale EPOLLERR against close and reuse of a PollDesc,
 * checked with spin by script/model.
 *
 * Processes and the code each step stands for (line numbers as of this model's commit):
 *   Poller      NetPoller::dispatch (netpoll/netpoll.cpp 241-252): the event carries the
 *               registration's fdseq; the check against pd->fdseq, outside any lock
 *               (249); then on_event -> set_event_err(error, hangup, seq) (poll_desc.cpp
 *               45-53), one CAS on info that gives up if info's sequence is not the
 *               event's.
 *   Owner       NetPoller::close (netpoll.cpp 175-195): under pd->lock, fdseq++ and
 *               publish_info (the new sequence into info) before the PollDesc is freed;
 *               then NetPoller::open of the next FD on the same PollDesc (136-173):
 *               publish_info(clear_event_err), one store of the whole word.
 *               Finally the new FD's first read: check_error (poll_desc.cpp 55-64).
 * Checked: the new FD never sees the old FD's error (and the old FD does see its own
 * error when the event is applied before the close).
 * Mutation that must fail (script/model): OLD_EVERR, the code before this fix: everr set
 * under the lock without looking at the sequence again.
 * MUTATIONS: OLD_EVERR
 */

byte fdseq = 0;      /* PollDesc::fdseq (low bits) */
byte info_seq = 0;   /* info's sequence bits */
bool everr = false;  /* info's kEventErr */
byte fd = 0;         /* ghost: 0 the first FD (A), 1 the next one (B) */
bool b_saw_error = false;

proctype Poller() {
  byte seq = 0;        /* the event was fetched for A: its registration's sequence */
  if
  :: fdseq == seq ->   /* dispatch's check */
#ifdef OLD_EVERR
       everr = true    /* under pd->lock, no second look */
#else
       atomic { if :: info_seq == seq -> everr = true :: else -> skip fi }
#endif
  :: else -> skip      /* stale: dropped */
  fi
}

proctype Owner() {
  atomic { fdseq++; info_seq = fdseq };        /* close: under the lock */
  atomic { everr = false; info_seq = fdseq; fd = 1 };  /* open of B: one store */
  b_saw_error = everr                          /* B's check_error */
}

init {
  atomic { run Poller(); run Owner() };
  (_nr_pr == 1);
  assert(!b_saw_error);
  assert(fd == 1 && (!everr))
}
