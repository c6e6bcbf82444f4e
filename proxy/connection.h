// One proxied connection: the goroutine that serves it from accept to close.
//
//   accept --> dial an endpoint (connect timeout; on refused/timeout/unreachable, the
//              next endpoint, up to connect_attempts) --> pump both ways --> close
//
// Each direction is pumped by its own goroutine with netpoll's splice (the connection's
// goroutine pumps client -> upstream, a second one upstream -> client). Both let the
// runtime release their stack pages while they idle (release_stack_when_idle): an idle
// connection holds no buffer, no pipe and no stack page. So everything the two share
// lives in the Connection, on the heap, never in either goroutine's frames. End of stream in
// one direction becomes shutdown(SHUT_WR) on the other side, and the connection is
// closed when both directions have finished: half-close is carried through faithfully,
// and since a pipe is always drained before the next read, every byte read is written
// before anything is closed.
//
// Timeouts are deadlines on the sockets, all derived from one rule:
//   deadline = min(last byte moved either way + limit, start + max_duration)
// where limit is idle_timeout, or fin_timeout once one direction has finished. A pump
// whose deadline passes looks at the clock: if bytes moved meanwhile (in the other
// direction) it simply waits again; otherwise the connection ends with that cause.
//
// Any other ending (a reset, an error, a timeout, a drain that ran out) is abortive: both
// sockets are closed with RST, so neither peer mistakes a cut-off stream for a complete
// one. Every ending has a CloseCause (close_cause.h), logged with the byte counts.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "netpoll/socket.h"
#include "netpoll/splice.h"
#include "proxy/close_cause.h"
#include "proxy/cluster.h"
#include "scheduler/internal/futex.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

class Connection;

// The open connections of the process, so that a drain that runs out of time, or a
// second stop signal, can end them all.
class ConnectionRegistry {
 public:
  void add(Connection* c);
  void remove(Connection* c);
  // Asks every open connection to end with `cause`; does not wait.
  size_t abort_all(CloseCause cause);
  size_t size();

 private:
  Mutex mu_;
  Connection* head_ PW_GUARDED_BY(mu_) = nullptr;
  size_t count_ PW_GUARDED_BY(mu_) = 0;
};

enum class Direction { client_to_upstream = 0, upstream_to_client = 1 };

class Connection {
 public:
  Connection(std::string listener, std::shared_ptr<ClusterState> cluster, net::Conn client,
             net::SocketAddress peer);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves the connection to the end, on the calling goroutine (it starts one more).
  void run(ConnectionRegistry& registry);
  // Ends the connection as soon as possible with `cause`; callable from anywhere. The
  // goroutines serving it notice at once (their deadlines are set in the past).
  void abort(CloseCause cause);

 private:
  friend class ConnectionRegistry;

  net::Result<net::Conn> dial(std::string* failures, bool* no_endpoint);
  void pump(Direction d);
  bool after_transfer(Direction d, const net::SpliceResult& r);
  Time deadline() const;
  void arm(Direction d);
  void finish(CloseCause cause);
  bool set_cause(CloseCause cause);
  void record_end();

  const std::string listener_;
  const std::shared_ptr<ClusterState> cluster_;
  net::Conn client_;
  net::Conn upstream_;
  const net::SocketAddress peer_;
  EndpointState* endpoint_ = nullptr;
  net::SocketAddress upstream_address_;

  const Time start_;
  const int64_t idle_ns_, fin_ns_;
  const Time max_deadline_;  // kNoDeadline when max_duration is off
  int64_t connect_ns_ = 0;   // accept to connected

  std::atomic<int64_t> last_activity_ns_;
  std::atomic<uint64_t> bytes_[2] = {0, 0};
  std::atomic<bool> done_[2] = {false, false};
  std::atomic<int> first_fin_{-1};  // the Direction that reached end of stream first
  std::atomic<int> cause_{-1};      // CloseCause, once decided
  std::atomic<bool> abort_requested_{false};
  std::atomic<bool> closed_abortively_{false};
  sched::SpinLock upstream_lock_;  // upstream_ is assigned after dial; abort() reads it
  sched::SpinLock end_lock_;       // orders finish() against passing an end of stream on
  WaitGroup pumps_;               // the upstream -> client pump goroutine
  // Per direction, here rather than in the pumps' frames (see above).
  class Pump final : public net::TransferObserver {
   public:
    Pump(Connection& c, Direction d) : c_(c), d_(d) {}
    void on_transferred(size_t n) override;

   private:
    Connection& c_;
    Direction d_;
  };
  Pump observers_[2] = {{*this, Direction::client_to_upstream},
                        {*this, Direction::upstream_to_client}};
  net::SpliceCarry carries_[2];  // bytes in flight when a write timed out

  Connection* prev_ = nullptr;  // ConnectionRegistry
  Connection* next_ = nullptr;
};

}  // namespace parkway::proxy
