// Thread-local runtime state and why it is only read through these functions.
//
// A goroutine can park on one OS thread and resume on another. Compilers assume the
// opposite: within a function, the address of a thread_local (computed from the thread
// pointer) may be computed once and reused after a call, and a function that only reads
// a thread_local may be treated as pure and its calls merged. Either would let a goroutine
// that migrated keep reading the previous thread's M. So every read goes through getm(),
// which is never inlined, never analysed across the call boundary (noipa) and contains a
// compiler barrier, so no two calls can be folded into one. Goroutine code likewise must
// not keep a reference to any thread_local (errno included) across a park: syscall
// wrappers return -errno values instead.
#include "scheduler/internal/proc.h"

namespace parkway::sched {

namespace {
thread_local M* tls_m = nullptr;
}

#if defined(__clang__)
#define PW_OPAQUE_FN [[gnu::noinline]]
#else
#define PW_OPAQUE_FN [[gnu::noinline, gnu::noipa]]
#endif

PW_OPAQUE_FN M* getm() {
  asm volatile("" ::: "memory");
  return tls_m;
}

PW_OPAQUE_FN void setm(M* m) {
  asm volatile("" ::: "memory");
  tls_m = m;
}

}  // namespace parkway::sched
