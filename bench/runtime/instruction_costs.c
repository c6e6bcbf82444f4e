// The cost, on this CPU, of the instructions a goroutine switch cannot avoid: the atomic
// read-modify-write that takes a goroutine off a stealable run queue, and saving and
// restoring the floating-point control state the ABI makes callee-saved. Each is timed
// alone in a loop, so the numbers are a floor, not a breakdown of the switch.
//
//   cc -O2 bench/runtime/instruction_costs.c -o /tmp/instruction_costs && /tmp/instruction_costs
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#define TIME(label, body)                                       \
  do {                                                          \
    double t0 = now_ns();                                       \
    for (long i = 0; i < N; i++) { body; }                      \
    printf("%-28s %6.2f ns\n", label, (now_ns() - t0) / N);     \
  } while (0)

int main(void) {
  const long N = 100000000;
  volatile long word = 0;
  long expected = 0;
#if defined(__x86_64__)
  unsigned int mxcsr = 0x1f80;
  unsigned short cw = 0x37f;
  TIME("lock cmpxchg (CAS)", expected = 0; __atomic_compare_exchange_n(&word, &expected, 0, 0,
                                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
  TIME("stmxcsr (save MXCSR)", __asm__ volatile("stmxcsr %0" : "=m"(mxcsr)));
  TIME("fnstcw (save x87 CW)", __asm__ volatile("fnstcw %0" : "=m"(cw)));
  TIME("ldmxcsr (restore MXCSR)", __asm__ volatile("ldmxcsr %0" ::"m"(mxcsr)));
  TIME("fldcw (restore x87 CW)", __asm__ volatile("fldcw %0" ::"m"(cw)));
#else
  TIME("CAS", expected = 0; __atomic_compare_exchange_n(&word, &expected, 0, 0, __ATOMIC_ACQ_REL,
                                                        __ATOMIC_ACQUIRE));
#endif
  return 0;
}
