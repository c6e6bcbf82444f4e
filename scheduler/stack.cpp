#include "scheduler/internal/stack.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "scheduler/check.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13 (include/uapi/asm-generic/mman-common.h)
#endif

namespace parkway::sched {

void StackAllocator::init(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  PW_CHECK(kGuardSize % page == 0, "stack guard size is not a multiple of the page size");
  size_ = (size + page - 1) / page * page;
  PW_CHECK(size_ >= 4 * page, "goroutine stack size %zu is too small (minimum %zu)", size_,
           4 * page);
}

void StackAllocator::destroy() {
  LockGuard g(lock_);
  for (auto& [p, n] : slabs_) munmap(p, n);
  slabs_.clear();
  next_ = nullptr;
  left_in_slab_ = 0;
}

namespace {

// Whether the memory at p faults: the kernel copying a byte out of it into a pipe fails
// with EFAULT if so. (No signal is raised; write and pipe2 are allowed under systemd's
// @system-service filter.) If the probe itself cannot run, assume it faults.
bool faults(const std::byte* p) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return true;
  const ssize_t n = write(fds[1], p, 1);
  const int e = errno;
  close(fds[0]);
  close(fds[1]);
  return n < 0 && e == EFAULT;
}

}  // namespace

void StackAllocator::install_guard(std::byte* guard_lo) {
  if (guard_via_madvise_) {
    if (madvise(guard_lo, kGuardSize, MADV_GUARD_INSTALL) == 0) {
      // The first time, check that the guard is real: an emulator such as qemu-user
      // accepts unknown madvise advice as a hint and does nothing.
      if (guard_checked_ || faults(guard_lo)) {
        guard_checked_ = true;
        return;
      }
    } else {
      PW_CHECK(errno == EINVAL, "madvise(MADV_GUARD_INSTALL) failed: %s", std::strerror(errno));
    }
    guard_via_madvise_ = false;  // kernel before 6.13 (or no real guard): mprotect for good
  }
  PW_CHECK(mprotect(guard_lo, kGuardSize, PROT_NONE) == 0,
           "mprotect of a goroutine stack guard failed: %s (vm.max_map_count too low for "
           "this many goroutines?)",
           std::strerror(errno));
}

Stack StackAllocator::allocate() {
  LockGuard g(lock_);
  const size_t slot = kGuardSize + size_;
  if (left_in_slab_ == 0) {
    const size_t bytes = slot * kStacksPerSlab;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    PW_CHECK(p != MAP_FAILED, "cannot map %zu bytes for goroutine stacks: %s", bytes,
             std::strerror(errno));
    slabs_.emplace_back(p, bytes);
    next_ = static_cast<std::byte*>(p);
    left_in_slab_ = kStacksPerSlab;
  }
  std::byte* guard_lo = next_;
  next_ += slot;
  left_in_slab_--;
  install_guard(guard_lo);
  allocated_.fetch_add(1, std::memory_order_relaxed);
  return Stack{guard_lo + kGuardSize, size_};
}

void StackAllocator::release_pages(const Stack& s) const { madvise(s.lo, s.size, MADV_DONTNEED); }

}  // namespace parkway::sched
