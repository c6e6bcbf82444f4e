// Stack overflow detection.
//
// A goroutine that overflows its stack touches the guard region below it and gets
// SIGSEGV. The handler runs on a per-M alternate signal stack (the goroutine's own stack
// is exhausted), checks whether the faulting address is in the guard region of the
// goroutine running on this M, and if so reports
//     parkway: fatal error: goroutine N: stack overflow (stack size S)
// and aborts. Any other fault is handed to the handler installed before ours (ASan's,
// for one) or to the default action, so ordinary crashes still dump core as before.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "scheduler/check.h"
#include "scheduler/internal/proc.h"

namespace parkway::sched {
namespace {

struct sigaction prev_segv;
struct sigaction prev_bus;
std::atomic<bool> installed{false};

// Async-signal-safe formatting: decimal digits into a buffer.
size_t format_u64(char* out, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

size_t append(char* buf, size_t at, const char* s) {
  size_t n = std::strlen(s);
  std::memcpy(buf + at, s, n);
  return at + n;
}

[[noreturn]] void report_overflow(const G* g) {
  char buf[160];
  size_t n = append(buf, 0, "parkway: fatal error: goroutine ");
  n += format_u64(buf + n, g->id);
  n = append(buf, n, ": stack overflow (stack size ");
  if (g->stack.size % 1024 == 0) {
    n += format_u64(buf + n, g->stack.size / 1024);
    n = append(buf, n, " KiB)\n");
  } else {
    n += format_u64(buf + n, g->stack.size);
    n = append(buf, n, " bytes)\n");
  }
  [[maybe_unused]] ssize_t w = write(STDERR_FILENO, buf, n);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGABRT, &dfl, nullptr);
  std::abort();
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  M* mp = getm();
  if (mp && mp->curg) {
    const G* g = mp->curg;
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    auto lo = reinterpret_cast<uintptr_t>(g->stack.lo);
    if (addr < lo && addr >= lo - StackAllocator::kGuardSize) report_overflow(g);
  }
  const struct sigaction& prev = sig == SIGSEGV ? prev_segv : prev_bus;
  if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction) {
    prev.sa_sigaction(sig, info, uctx);
    return;
  }
  if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  // Restore the default action; returning re-executes the fault, which now dumps core.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
}

}  // namespace

void install_stack_overflow_handler() {
  if (installed.exchange(true)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &prev_segv);
  sigaction(SIGBUS, &sa, &prev_bus);
}

void setup_signal_stack(M* mp) {
  // Keep an alternate stack someone already gave this thread (sanitizer runtimes do).
  stack_t cur;
  if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= 16384) {
    return;
  }
  const size_t size = 64 * 1024;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  PW_CHECK(p != MAP_FAILED, "cannot map a signal stack: %s", std::strerror(errno));
  stack_t ss;
  ss.ss_sp = p;
  ss.ss_size = size;
  ss.ss_flags = 0;
  PW_CHECK(sigaltstack(&ss, nullptr) == 0, "sigaltstack failed: %s", std::strerror(errno));
  mp->signal_stack = p;
  mp->signal_stack_size = size;
}

void teardown_signal_stack(M* mp) {
  if (!mp->signal_stack) return;
  stack_t ss;
  std::memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(mp->signal_stack, mp->signal_stack_size);
  mp->signal_stack = nullptr;
}

}  // namespace parkway::sched
