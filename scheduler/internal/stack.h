// Goroutine stacks: fixed size, mmap'd, each below a guard region that faults.
//
// C++ cannot move a stack (pointers into it are everywhere), so a goroutine's stack has a
// fixed size for its whole life. That costs little: the stack is reserved address space,
// and only the pages a goroutine actually touches become resident.
//
//   high addresses   +------------------+  <- hi(): the first frame is built here
//                    |  usable stack    |     (size bytes; grows down)
//                    +------------------+  <- lo
//                    |  guard region    |     kGuardSize bytes, any access faults; the
//   low addresses    +------------------+     SIGSEGV handler reports a stack overflow
//
// Stacks are carved from slabs of kStacksPerSlab, so a thousand goroutines do not cost
// a thousand mmap calls. The guard is installed with MADV_GUARD_INSTALL where the kernel
// has it (Linux 6.13+: no extra VMA per stack, so the number of goroutines is not bounded
// by vm.max_map_count) and with mprotect(PROT_NONE) otherwise (two VMAs per stack).
//
// Stacks are never unmapped while the runtime lives: a dead goroutine keeps its stack and
// both are cached, per P and then globally (proc.cpp: gfput/gfget). Past a high-water
// mark of cached stacks, release_pages() gives the touched pages back with MADV_DONTNEED.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

#include "scheduler/internal/futex.h"

namespace parkway::sched {

struct Stack {
  std::byte* lo = nullptr;  // lowest usable address, just above the guard
  size_t size = 0;          // usable bytes
  std::byte* hi() const { return lo + size; }
};

class StackAllocator {
 public:
  static constexpr size_t kGuardSize = 16 * 1024;  // 4 pages: frames up to 16 KiB cannot jump it
  static constexpr size_t kStacksPerSlab = 32;

  // size: usable bytes per stack, rounded up to whole pages.
  void init(size_t size);
  // Unmaps every slab. Every stack handed out must be dead.
  void destroy();

  Stack allocate();
  // Returns the stack's pages to the kernel; the stack stays reserved and usable.
  void release_pages(const Stack& s) const;

  size_t stack_size() const { return size_; }
  size_t allocated() const { return allocated_.load(std::memory_order_relaxed); }
  bool guard_via_madvise() const { return guard_via_madvise_; }

 private:
  void install_guard(std::byte* guard_lo);

  RuntimeLock lock_;
  size_t size_ = 0;                              // usable bytes per stack
  std::vector<std::pair<void*, size_t>> slabs_;  // guarded by lock_
  std::byte* next_ = nullptr;                    // next free slot in the newest slab
  size_t left_in_slab_ = 0;
  std::atomic<size_t> allocated_{0};
  bool guard_via_madvise_ = true;
  bool guard_checked_ = false;
};

}  // namespace parkway::sched
