#include "netpoll/splice.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <vector>

#include "scheduler/internal/futex.h"

namespace parkway::net {
namespace {

// 256 KiB: a chunk big enough that splicing costs few syscalls per megabyte, small enough
// that a pool of pipes stays within fs.pipe-user-pages-soft (64 MiB per unprivileged
// user) with room to spare.
constexpr int kPipeSize = 256 * 1024;
constexpr size_t kMaxPooledPipes = 64;
constexpr size_t kCopyBufferSize = 64 * 1024;
constexpr size_t kMaxPooledBuffers = 64;

struct Pipe {
  int r = -1;
  int w = -1;
};

class PipePool {
 public:
  // Returns a pipe, or an error (out of descriptors, for one).
  Result<Pipe> get() {
    {
      sched::LockGuard g(lock_);
      if (!free_.empty()) {
        Pipe p = free_.back();
        free_.pop_back();
        in_use_++;
        return p;
      }
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return errno_code(errno);
    // Best effort: a smaller pipe only means more syscalls.
    fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
    sched::LockGuard g(lock_);
    created_++;
    in_use_++;
    return Pipe{fds[0], fds[1]};
  }
  // For an empty pipe.
  void put(Pipe p) {
    {
      sched::LockGuard g(lock_);
      in_use_--;
      if (free_.size() < kMaxPooledPipes) {
        free_.push_back(p);
        return;
      }
    }
    close_pipe(p);
  }
  // For a pipe that may still hold data.
  void discard(Pipe p) {
    {
      sched::LockGuard g(lock_);
      in_use_--;
      discarded_++;
    }
    close_pipe(p);
  }
  PipePoolStats stats() {
    sched::LockGuard g(lock_);
    return {static_cast<int64_t>(free_.size()), in_use_, created_, discarded_};
  }

 private:
  static void close_pipe(Pipe p) {
    ::close(p.r);
    ::close(p.w);
  }
  sched::RuntimeLock lock_;
  std::vector<Pipe> free_;
  int64_t in_use_ = 0, created_ = 0, discarded_ = 0;
};

PipePool& pipes() {
  static PipePool* const pool = new PipePool();  // lives as long as the process
  return *pool;
}

using Buffer = std::array<std::byte, kCopyBufferSize>;

class BufferPool {
 public:
  std::unique_ptr<Buffer> get() {
    {
      sched::LockGuard g(lock_);
      if (!free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return std::make_unique<Buffer>();
  }
  void put(std::unique_ptr<Buffer> b) {
    sched::LockGuard g(lock_);
    if (free_.size() < kMaxPooledBuffers) free_.push_back(std::move(b));
  }

 private:
  sched::RuntimeLock lock_;
  std::vector<std::unique_ptr<Buffer>> free_;
};

BufferPool& buffers() {
  static BufferPool* const pool = new BufferPool();
  return *pool;
}

bool would_block(std::error_code ec) { return ec == std::errc::resource_unavailable_try_again; }

SpliceResult copy_loop(FD& dst, FD& src, TransferObserver* observer, SpliceResult result) {
  result.spliced = false;
  for (;;) {
    // Wait for data holding no buffer; take one only to read what arrived.
    auto buf = buffers().get();
    IoResult r = src.io(Mode::read, false, [&](int fd) -> ssize_t {
      ssize_t n = ::read(fd, buf->data(), buf->size());
      return n >= 0 ? n : -errno;
    });
    if (would_block(r.error)) {
      buffers().put(std::move(buf));
      if (auto ec = src.wait(Mode::read)) {
        result.end = TransferEnd::read_error;
        result.error = ec;
        return result;
      }
      continue;
    }
    if (r.error) {
      buffers().put(std::move(buf));
      result.end = TransferEnd::read_error;
      result.error = r.error;
      return result;
    }
    if (r.bytes == 0) {
      buffers().put(std::move(buf));
      result.end = TransferEnd::eof;
      return result;
    }
    IoResult w = dst.write_all(std::span<const std::byte>(buf->data(), r.bytes));
    buffers().put(std::move(buf));
    result.bytes += w.bytes;
    if (w.bytes > 0 && observer) observer->on_transferred(w.bytes);
    if (w.error) {
      result.end = TransferEnd::write_error;
      result.error = w.error;
      return result;
    }
  }
}

}  // namespace

SpliceResult splice(FD& dst, FD& src, TransferObserver* observer, SpliceMode mode) {
  SpliceResult result;
  if (mode == SpliceMode::copy_only) return copy_loop(dst, src, observer, result);
  result.spliced = true;
  bool first = true;
  for (;;) {
    // Fill: wait for data holding no pipe; take one only to splice what arrived.
    auto got = pipes().get();
    if (!got) {
      result.end = TransferEnd::read_error;
      result.error = got.error();
      return result;
    }
    Pipe p = *got;
    IoResult in = src.io(Mode::read, false, [&](int fd) -> ssize_t {
      ssize_t n = ::splice(fd, nullptr, p.w, nullptr, kPipeSize, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      return n >= 0 ? n : -errno;
    });
    if (would_block(in.error)) {
      pipes().put(p);
      if (auto ec = src.wait(Mode::read)) {
        result.end = TransferEnd::read_error;
        result.error = ec;
        return result;
      }
      continue;
    }
    if (in.error == std::errc::invalid_argument && first) {
      pipes().put(p);
      return copy_loop(dst, src, observer, result);
    }
    if (in.error || in.bytes == 0) {
      pipes().put(p);  // empty: nothing was spliced into it
      result.end = in.error ? TransferEnd::read_error : TransferEnd::eof;
      result.error = in.error;
      return result;
    }
    first = false;
    // Drain: everything in the pipe goes to dst before the next fill.
    size_t left = in.bytes;
    while (left > 0) {
      IoResult out = dst.io(Mode::write, true, [&](int fd) -> ssize_t {
        ssize_t n = ::splice(p.r, nullptr, fd, nullptr, left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        return n >= 0 ? n : -errno;
      });
      if (out.error) {
        pipes().discard(p);  // it may still hold bytes: never hand them to someone else
        result.end = TransferEnd::write_error;
        result.error = out.error;
        return result;
      }
      left -= out.bytes;
      result.bytes += out.bytes;
      if (observer) observer->on_transferred(out.bytes);
    }
    pipes().put(p);
  }
}

PipePoolStats pipe_pool_stats() { return pipes().stats(); }

}  // namespace parkway::net
