// Hooks that keep AddressSanitizer and ThreadSanitizer correct across context switches.
//
// ASan tracks one stack per thread; before a switch it must be told the stack we go to
// (start_switch_fiber) and, on arrival, finish the switch (finish_switch_fiber). A stack
// being left for good passes no fake-stack slot, so ASan frees its fake frames.
// TSan keeps a separate "fiber" (vector clock and shadow stack) per goroutine and must
// switch to the target's fiber before the stack changes. Without sanitizers every hook
// is an empty inline function.
#pragma once

#include <cstddef>

#if defined(PARKWAY_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(PARKWAY_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace parkway::sched::san {

// --- ASan ----------------------------------------------------------------------------
inline void start_switch(void** fake_stack_save, const void* to_lo, size_t to_size) {
#if defined(PARKWAY_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, to_lo, to_size);
#else
  (void)fake_stack_save, (void)to_lo, (void)to_size;
#endif
}

inline void finish_switch(void* fake_stack_save) {
#if defined(PARKWAY_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack_save, nullptr, nullptr);
#else
  (void)fake_stack_save;
#endif
}

// A reused goroutine stack may still carry poison from frames that never returned.
inline void unpoison(void* p, size_t n) {
#if defined(PARKWAY_ASAN)
  __asan_unpoison_memory_region(p, n);
#else
  (void)p, (void)n;
#endif
}

// --- TSan ----------------------------------------------------------------------------
inline void* fiber_create() {
#if defined(PARKWAY_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void* fiber_current() {
#if defined(PARKWAY_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void fiber_destroy(void* f) {
#if defined(PARKWAY_TSAN)
  if (f) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}
// Flag 0: the switch synchronises (happens-before) the two fibers.
inline void fiber_switch(void* to) {
#if defined(PARKWAY_TSAN)
  __tsan_switch_to_fiber(to, 0);
#else
  (void)to;
#endif
}

}  // namespace parkway::sched::san
