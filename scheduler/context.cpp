#include "scheduler/internal/context.h"

#include <cstdint>
#include <cstring>

extern "C" void parkway_ctx_trampoline();

namespace parkway::sched {

void* ctx_make(void* stack_top, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t{15};
#if defined(__x86_64__)
  // Frame layout: see context_x86_64.S. After the switch pops it and returns into the
  // trampoline, rsp == top, 16-byte aligned.
  constexpr int kWords = 9;
  auto* frame = reinterpret_cast<uint64_t*>(top) - kWords;
  std::memset(frame, 0, kWords * sizeof(uint64_t));
  frame[0] = 0x037F;  // x87 control word: all exceptions masked, 64-bit precision
  frame[1] = 0x1F80;  // MXCSR: all exceptions masked, round to nearest
  frame[5] = reinterpret_cast<uint64_t>(arg);    // r12
  frame[6] = reinterpret_cast<uint64_t>(entry);  // rbx
  frame[8] = reinterpret_cast<uint64_t>(&parkway_ctx_trampoline);
  return frame;
#elif defined(__aarch64__)
  // Frame layout: see context_aarch64.S.
  constexpr int kWords = 22;
  auto* frame = reinterpret_cast<uint64_t*>(top) - kWords;
  std::memset(frame, 0, kWords * sizeof(uint64_t));
  frame[0] = reinterpret_cast<uint64_t>(entry);                     // x19
  frame[1] = reinterpret_cast<uint64_t>(arg);                       // x20
  frame[11] = reinterpret_cast<uint64_t>(&parkway_ctx_trampoline);  // x30
  frame[20] = 0;  // FPCR: round to nearest, no traps
  return frame;
#else
#error "parkway's context switch supports x86-64 and aarch64"
#endif
}

}  // namespace parkway::sched
