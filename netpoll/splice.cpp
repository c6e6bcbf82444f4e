#include "netpoll/splice.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <vector>

#include "scheduler/lock.h"

namespace parkway::net {
namespace {

// 256 KiB: a chunk big enough that splicing costs few syscalls per megabyte, small enough
// that a pool of pipes stays within fs.pipe-user-pages-soft (64 MiB per unprivileged
// user) with room to spare.
constexpr int kPipeSize = 256 * 1024;
constexpr size_t kMaxPooledPipes = 64;
constexpr size_t kCopyBufferSize = 64 * 1024;
// Chunks smaller than this are copied, larger ones spliced (automatic mode): for a 64-byte
// message a read and a write cost less than two splices through a pipe, while a bulk
// stream's chunks (tens of KiB at a time) never enter user space. A transfer starts by
// copying and moves to splicing after a chunk of at least this size, and back after a
// smaller one.
constexpr size_t kSpliceFrom = 16 * 1024;
constexpr size_t kMaxPooledBuffers = 64;

struct Pipe {
  int r = -1;
  int w = -1;
};

class PipePool {
 public:
  // Returns a pipe, or an error (out of descriptors, or past the limit: EMFILE).
  Result<Pipe> get() {
    {
      sched::LockGuard g(lock_);
      if (!free_.empty()) {
        Pipe p = free_.back();
        free_.pop_back();
        in_use_++;
        return p;
      }
      if (static_cast<size_t>(in_use_) >= max_pipes_) return errno_code(EMFILE);
      in_use_++;  // taken before it exists, so that the limit holds under concurrency
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      const int e = errno;
      sched::LockGuard g(lock_);
      in_use_--;
      return errno_code(e);
    }
    // Best effort: a smaller pipe only means more syscalls.
    fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
    sched::LockGuard g(lock_);
    created_++;
    return Pipe{fds[0], fds[1]};
  }
  // For an empty pipe.
  void put(Pipe p) {
    {
      sched::LockGuard g(lock_);
      in_use_--;
      if (free_.size() < max_pooled_ && free_.size() + static_cast<size_t>(in_use_) < max_pipes_) {
        free_.push_back(p);
        return;
      }
    }
    close_pipe(p);
  }
  void set_limits(size_t max_pipes, size_t max_pooled) {
    std::vector<Pipe> closing;
    {
      sched::LockGuard g(lock_);
      max_pipes_ = max_pipes;
      max_pooled_ = std::min(max_pooled, max_pipes);
      while (free_.size() > max_pooled_ ||
             (!free_.empty() && free_.size() + static_cast<size_t>(in_use_) > max_pipes_)) {
        closing.push_back(free_.back());
        free_.pop_back();
      }
    }
    for (Pipe p : closing) close_pipe(p);
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
  size_t max_pipes_ = SIZE_MAX;
  size_t max_pooled_ = kMaxPooledPipes;
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
    return std::make_unique_for_overwrite<Buffer>();  // pages are touched only as used
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

std::atomic<uint64_t> spliced_total{0};
std::atomic<uint64_t> copied_total{0};
std::atomic<uint64_t> discarded_buffers{0};

bool would_block(std::error_code ec) { return ec == std::errc::resource_unavailable_try_again; }

// Writes `left` bytes from pipe p to dst. On success the pipe is empty (the caller pools
// it). On failure it is carried (write timeout with a carry) or discarded.
bool drain_pipe(FD& dst, Pipe p, size_t left, TransferObserver* observer, SpliceResult& result,
                SpliceCarry* carry, Pipe* carried, size_t* carried_bytes) {
  while (left > 0) {
    IoResult out = dst.io(Mode::write, true, [&](int fd) -> ssize_t {
      ssize_t n = ::splice(p.r, nullptr, fd, nullptr, left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      return n >= 0 ? n : -current_errno();
    });
    left -= out.bytes;
    result.bytes += out.bytes;
    spliced_total.fetch_add(out.bytes, std::memory_order_relaxed);
    if (out.bytes > 0 && observer) observer->on_transferred(out.bytes);
    if (out.error) {
      result.end = TransferEnd::write_error;
      result.error = out.error;
      if (carry != nullptr && is_timeout(out.error)) {
        *carried = p;
        *carried_bytes = left;
      } else {
        pipes().discard(p);  // it may still hold bytes: never hand them to someone else
      }
      return false;
    }
  }
  return true;
}

// The same for a copy buffer holding [off, len).
bool drain_buffer(FD& dst, std::unique_ptr<Buffer>& buf, size_t off, size_t len,
                  TransferObserver* observer, SpliceResult& result, SpliceCarry* carry,
                  void** carried, size_t* carried_off, size_t* carried_len) {
  IoResult w = dst.write_all(std::span<const std::byte>(buf->data() + off, len - off));
  result.bytes += w.bytes;
  copied_total.fetch_add(w.bytes, std::memory_order_relaxed);
  if (w.bytes > 0 && observer) observer->on_transferred(w.bytes);
  if (!w.error) return true;
  result.end = TransferEnd::write_error;
  result.error = w.error;
  if (carry != nullptr && is_timeout(w.error)) {
    *carried = buf.release();
    *carried_off = off + w.bytes;
    *carried_len = len;
  } else {
    discarded_buffers.fetch_add(1, std::memory_order_relaxed);  // the caller frees it
  }
  return false;
}

}  // namespace

SpliceCarry::~SpliceCarry() { clear(); }

void SpliceCarry::clear() {
  if (pipe_r_ >= 0) pipes().discard(Pipe{pipe_r_, pipe_w_});
  pipe_r_ = pipe_w_ = -1;
  pipe_bytes_ = 0;
  if (buf_ != nullptr) {
    discarded_buffers.fetch_add(1, std::memory_order_relaxed);
    delete static_cast<Buffer*>(buf_);
    buf_ = nullptr;
  }
  buf_off_ = buf_len_ = 0;
}

// splice() in pieces. The loop that waits for data is kept to a small frame: an idle
// transfer parks in it, and an idle goroutine's live stack is what the runtime keeps
// aside when it releases the stack's pages (scheduler/idle_stack.cpp). The work on a
// chunk happens in functions of their own, off the stack while the transfer waits.
struct SpliceCarryAccess {
  struct Transfer {
    FD& dst;
    FD& src;
    TransferObserver* observer;
    SpliceCarry* carry;
    SpliceResult& result;
    bool copying;
    bool copy_once = false;  // no pipe to be had: move the next chunk through a buffer
    bool small = true;       // the last chunk was small: copy the next (automatic mode)
    bool first = true;       // no splice has worked yet (EINVAL then means: copy)
  };
  // more: read again at once. drained: a read got fewer bytes than it asked for, so the
  // socket is empty: wait for the next edge before reading (no read that can only say
  // EAGAIN). would_block: it said EAGAIN. done: the transfer is over.
  enum class Step { more, drained, would_block, done };

  // First delivers what an earlier call could not write; false if that failed again.
  [[gnu::noinline]] static bool deliver_carried(Transfer& t) {
    SpliceCarry& carry = *t.carry;
    if (carry.pipe_bytes_ > 0) {
      t.result.spliced = true;
      Pipe p{carry.pipe_r_, carry.pipe_w_};
      const size_t left = carry.pipe_bytes_;
      carry.pipe_r_ = carry.pipe_w_ = -1;
      carry.pipe_bytes_ = 0;
      if (!drain_pipe(t.dst, p, left, t.observer, t.result, t.carry, &p, &carry.pipe_bytes_)) {
        if (carry.pipe_bytes_ > 0) {
          carry.pipe_r_ = p.r;
          carry.pipe_w_ = p.w;
        }
        return false;
      }
      pipes().put(p);
    } else if (carry.buf_ != nullptr) {
      std::unique_ptr<Buffer> b(static_cast<Buffer*>(carry.buf_));
      const size_t off = carry.buf_off_, len = carry.buf_len_;
      carry.buf_ = nullptr;
      carry.buf_off_ = carry.buf_len_ = 0;
      if (!drain_buffer(t.dst, b, off, len, t.observer, t.result, t.carry, &carry.buf_,
                        &carry.buf_off_, &carry.buf_len_)) {
        return false;
      }
      buffers().put(std::move(b));
    }
    return true;
  }

  // One chunk through a buffer, taken only once data is there.
  [[gnu::noinline]] static Step copy_chunk(Transfer& t) {
    auto buf = buffers().get();
    IoResult r = t.src.io(Mode::read, false, [&](int fd) -> ssize_t {
      ssize_t n = ::read(fd, buf->data(), buf->size());
      return n >= 0 ? n : -current_errno();
    });
    if (would_block(r.error)) {
      buffers().put(std::move(buf));
      return Step::would_block;
    }
    if (r.error || r.bytes == 0) {
      buffers().put(std::move(buf));
      t.result.end = r.error ? TransferEnd::read_error : TransferEnd::eof;
      t.result.error = r.error;
      return Step::done;
    }
    if (r.bytes >= kSpliceFrom) t.small = false;
    // With edge-triggered epoll a short read of a TCP socket has emptied it: bytes that
    // arrive after it are a new edge, which wakes the wait. Not once the peer shut down,
    // reset or sent urgent data (short_read_drains, asked after the syscall): the FIN may
    // have been taken with these bytes, or the read stopped at the urgent mark; then read
    // until EAGAIN.
    const bool drained = r.bytes < buf->size() && t.src.short_read_drains();
    void* held = nullptr;
    size_t off = 0, len = 0;
    if (!drain_buffer(t.dst, buf, 0, r.bytes, t.observer, t.result, t.carry, &held, &off, &len)) {
      if (held != nullptr) {
        t.carry->buf_ = held;
        t.carry->buf_off_ = off;
        t.carry->buf_len_ = len;
      }
      return Step::done;
    }
    buffers().put(std::move(buf));
    return drained ? Step::drained : Step::more;
  }

  // One chunk through a pipe, taken only once data is there; emptied into dst before
  // the next.
  [[gnu::noinline]] static Step splice_chunk(Transfer& t) {
    t.result.spliced = true;
    auto got = pipes().get();
    if (!got && is_resource_exhausted(got.error())) {
      // No descriptors left for a pipe (the process is at its RLIMIT_NOFILE) or no
      // memory for one: this chunk goes through a buffer instead, which needs neither a
      // descriptor nor much memory. The connection must not fail for the process's
      // shortage; the next chunk tries a pipe again.
      t.copy_once = true;
      return Step::more;
    }
    if (!got) {
      t.result.end = TransferEnd::read_error;
      t.result.error = got.error();
      return Step::done;
    }
    Pipe p = *got;
    IoResult in = t.src.io(Mode::read, false, [&](int fd) -> ssize_t {
      ssize_t n = ::splice(fd, nullptr, p.w, nullptr, kPipeSize, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      return n >= 0 ? n : -current_errno();
    });
    if (would_block(in.error)) {
      pipes().put(p);
      return Step::would_block;
    }
    if (in.error == std::errc::invalid_argument && t.first) {
      // This pair of sockets cannot be spliced: copy through a buffer instead.
      pipes().put(p);
      t.copying = true;
      t.result.spliced = false;
      return Step::more;
    }
    if (in.error || in.bytes == 0) {
      pipes().put(p);  // empty: nothing was spliced into it
      t.result.end = in.error ? TransferEnd::read_error : TransferEnd::eof;
      t.result.error = in.error;
      return Step::done;
    }
    t.first = false;
    if (in.bytes < kSpliceFrom) t.small = true;
    Pipe held;
    size_t held_bytes = 0;
    if (!drain_pipe(t.dst, p, in.bytes, t.observer, t.result, t.carry, &held, &held_bytes)) {
      if (held_bytes > 0) {
        t.carry->pipe_r_ = held.r;
        t.carry->pipe_w_ = held.w;
        t.carry->pipe_bytes_ = held_bytes;
      }
      return Step::done;
    }
    pipes().put(p);
    return Step::more;
  }
};

SpliceResult splice(FD& dst, FD& src, TransferObserver* observer, SpliceMode mode,
                    SpliceCarry* carry) {
  using A = SpliceCarryAccess;
  SpliceResult result;
  A::Transfer t{dst, src, observer, carry, result, mode == SpliceMode::copy_only};
  if (carry != nullptr && (carry->pipe_bytes_ > 0 || carry->buf_ != nullptr) &&
      !A::deliver_carried(t)) {
    return result;
  }
  for (;;) {
    A::Step step;
    if (t.copying || t.copy_once || t.small) {
      t.copy_once = false;
      step = A::copy_chunk(t);
    } else {
      step = A::splice_chunk(t);
    }
    if (step == A::Step::done) return result;
    if (step == A::Step::would_block || step == A::Step::drained) {
      // Wait for data holding no pipe and no buffer.
      if (auto ec = src.wait(Mode::read)) {
        result.end = TransferEnd::read_error;
        result.error = ec;
        return result;
      }
    }
  }
}

void set_pipe_limits(size_t max_pipes, size_t max_pooled) {
  pipes().set_limits(max_pipes, max_pooled);
}

PipePoolStats pipe_pool_stats() {
  PipePoolStats s = pipes().stats();
  s.spliced_bytes = spliced_total.load(std::memory_order_relaxed);
  s.copied_bytes = copied_total.load(std::memory_order_relaxed);
  s.discarded_buffers = discarded_buffers.load(std::memory_order_relaxed);
  return s;
}

}  // namespace parkway::net
