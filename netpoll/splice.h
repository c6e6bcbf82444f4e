// splice: moves a byte stream from one socket to another through a kernel pipe, so the
// bytes never enter user space; a plain buffer copy is the fallback.
//
//   src socket --splice--> pipe --splice--> dst socket
//
// Both splices pass SPLICE_F_NONBLOCK and park the goroutine on EAGAIN (no data in src,
// no room in dst). The pipe is emptied into dst before it is filled again, so a transfer
// never holds more than one pipe's worth in flight, and backpressure from a slow reader
// reaches the writer through the socket buffers.
//
// Small chunks are copied instead: for a 64-byte message, read(2) and write(2) through a
// buffer cost less than two splices through a pipe. A transfer starts by copying, splices
// from the first chunk of 16 KiB or more, and goes back to copying after a smaller one, so
// request/response traffic is copied and bulk traffic spliced.
//
// Nothing is held while the stream is idle: a pipe (or, copying, a buffer) is taken from
// a pool only when data arrives, and given back as soon as it is drained. A pipe that
// still holds data when an error stops the transfer is closed, not pooled. If the first
// splice fails with EINVAL (a socket type splice cannot handle), the transfer falls back
// to copying through a buffer for good.
#pragma once

#include <cstdint>
#include <system_error>

#include "netpoll/fd.h"

namespace parkway::net {

// automatic: copy small chunks, splice large ones (above); copy_only: never splice.
enum class SpliceMode { automatic, copy_only };

// How a transfer ended.
enum class TransferEnd {
  eof,          // src reached end of stream; every byte read was written to dst
  read_error,   // reading src failed (error says why: timeout, reset, closed, ...)
  write_error,  // writing dst failed (timeout: the unwritten bytes are in the carry)
};

struct SpliceResult {
  uint64_t bytes = 0;    // written to dst
  bool spliced = false;  // some of it moved by splice (false: all copied through a buffer)
  TransferEnd end = TransferEnd::eof;
  std::error_code error;
};

// Notified after each chunk written to dst (from the transferring goroutine).
class TransferObserver {
 public:
  virtual void on_transferred(size_t bytes) = 0;

 protected:
  ~TransferObserver() = default;
};

// Bytes read from src but not yet written to dst when a write timed out, kept for the
// next splice() of the same transfer, which delivers them first. A transfer that stops
// for good with bytes still carried discards them (destroying the carry closes its pipe).
class SpliceCarry {
 public:
  SpliceCarry() = default;
  ~SpliceCarry();
  SpliceCarry(const SpliceCarry&) = delete;
  SpliceCarry& operator=(const SpliceCarry&) = delete;
  size_t pending() const { return pipe_bytes_ + (buf_len_ - buf_off_); }
  // Drops what it carries: the transfer is over. A pipe or buffer still holding bytes is
  // closed or freed, never pooled (counted as discarded in PipePoolStats).
  void clear();

 private:
  friend SpliceResult splice(FD& dst, FD& src, TransferObserver* observer, SpliceMode mode,
                             SpliceCarry* carry);
  friend struct SpliceCarryAccess;
  int pipe_r_ = -1, pipe_w_ = -1;
  size_t pipe_bytes_ = 0;
  void* buf_ = nullptr;  // a copy buffer (see splice.cpp), when copying
  size_t buf_off_ = 0, buf_len_ = 0;
};

// Moves bytes from src to dst until end of stream on src or an error. Deadlines set on
// src (reads) and dst (writes) apply; a timeout ends the call with Errc::timeout. Data is
// only waited for with an empty pipe, so nothing is lost when a read times out; when a
// write times out, the bytes in flight go to `carry` (if given) and the next call with
// the same carry writes them before reading more. Without a carry they are discarded.
SpliceResult splice(FD& dst, FD& src, TransferObserver* observer = nullptr,
                    SpliceMode mode = SpliceMode::automatic, SpliceCarry* carry = nullptr);

// Bounds the pipes of the process: at most `max_pipes` (in use and pooled together; each is
// two descriptors) and at most `max_pooled` of them idle in the pool. Past max_pipes a
// chunk goes through a copy buffer instead, as when pipe2() fails for lack of
// descriptors. Lowering the bounds closes pooled pipes at once; pipes in use go when they
// are given back. The defaults: no limit on pipes, 64 pooled.
void set_pipe_limits(size_t max_pipes, size_t max_pooled);

// Pool statistics, for tests and metrics.
struct PipePoolStats {
  int64_t pooled = 0;              // idle pipes in the pool
  int64_t in_use = 0;              // pipes holding data in flight (or carried)
  int64_t created = 0;             // pipes created so far
  int64_t discarded = 0;           // pipes closed because they still held data after an error
  uint64_t discarded_buffers = 0;  // copy buffers freed, not pooled, for the same reason
  uint64_t spliced_bytes = 0;      // moved through pipes, ever
  uint64_t copied_bytes = 0;       // moved through buffers (the fallback), ever
};
PipePoolStats pipe_pool_stats();

}  // namespace parkway::net
