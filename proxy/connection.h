// One proxied connection: from accept to close, on the goroutine that serves it.
//
//   accept --> dial an endpoint (connect_timeout; on refused/timeout/unreachable, another
//              endpoint, up to connect_attempts) --> pump both ways --> close
//
// Each direction is pumped by its own goroutine with netpoll's splice (the connection's
// goroutine pumps client -> upstream, a second one upstream -> client). Both let the
// runtime release their stack pages while they idle (release_stack_when_idle): an idle
// connection holds no buffer, no pipe and no stack page. So everything the two share
// lives in the Connection, on the heap, never in either goroutine's frames, and what a
// pump keeps live in its frames while parked is kept small (tests/proxy/idle_frame_test.cpp
// guards it).
//
// The connection's life, drawn as poll_desc.h draws rg/wg. `state_` is one atomic word of
// the flags below; `cause_` is decided once (CAS from none: the first decision wins).
//
//                  run(): dial
//   accepted ----------------------> connecting --- every attempt failed ---> closed
//                                         |        (connect_failed, no_endpoint: the
//                                         |         client gets a FIN, no byte was sent)
//                                  connected: pumps start
//                                         v
//                                       open ----- EOF on one side ------> half-closed
//                                         |        (done[d], FIN to the        |
//                                         |         other side)                | EOF on
//                                         |                                    v the other
//                 reset, error, timeout,  |                                 closed: both
//                 abort(): finish(cause)  |                                 directions done,
//                                         v                                 FIN both ways
//                                       reset: both sockets closed with RST   (client_eof,
//                                                                            upstream_eof)
//
// Who moves what, and what protects it:
//   kDone{C2U,U2C}  the pump of that direction, when its source reached end of stream: it
//                   sets the bit and sends the FIN (shutdown(SHUT_WR) of its destination)
//                   together, under lock_. kFirstU2C records, with the same store, that
//                   upstream -> client finished while the other direction had not.
//   kAborting       abort(cause), from any goroutine or thread (a drain that ran out, a
//                   second stop signal): it sets the flag, then puts the sockets'
//                   deadlines in the past; a pump re-checks the flag after setting its
//                   own deadlines (arm()), so one of the two always sees the other.
//   kReset          finish(cause), from either pump (or run() on an abort during the
//                   dial), under lock_: from then on no FIN may go out, and both sockets
//                   are closed with RST so that no peer takes a cut-off stream for a
//                   complete one.
//   lock_           orders "pass an end of stream on" (kDone + FIN) against finish()'s
//                   kReset, so a FIN never overtakes a reset (an end of stream read right
//                   after the other pump took the peer's reset is a reset in disguise);
//                   and guards upstream_ while a connect attempt assigns it, so that
//                   abort() can cut a connect in progress short.
//   FIN vs RST      decided in one place each: a pump's end of stream passes a FIN on
//                   (after_transfer), everything else ends in finish() with RST. A
//                   connection both of whose directions finished in order closes with
//                   FIN (run()).
//   bytes, times    byte counts per direction and the last activity are relaxed atomics,
//                   written by the pumps, read by the deadline rule and the access log.
//
// Timeouts are deadlines on the sockets, all derived from one rule (expiry()):
//   deadline = min(last byte moved either way + limit, start + max_duration)
// where limit is idle_timeout, or fin_timeout once one direction has finished. A pump
// whose deadline passes looks at the clock: if bytes moved meanwhile (in the other
// direction) it simply waits again; otherwise the connection ends with that cause.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "netpoll/socket.h"
#include "netpoll/splice.h"
#include "proxy/accept_loop.h"
#include "proxy/close_cause.h"
#include "proxy/cluster.h"
#include "scheduler/lock.h"
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

enum class Direction : uint8_t { client_to_upstream = 0, upstream_to_client = 1 };

class Connection final : public Accepted {
 public:
  Connection(std::string listener, std::shared_ptr<ClusterState> cluster, net::Conn client,
             net::SocketAddress peer, ConnectionRegistry& registry);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves the connection to the end, on the calling goroutine (it starts one more).
  void serve() override;
  // Ends the connection as soon as possible with `cause`; callable from anywhere. The
  // goroutines serving it notice at once (their deadlines are set in the past).
  void abort(CloseCause cause);

  // `listener "app": client 127.0.0.1:5000: `, the start of every log line about it.
  std::string log_prefix() const;

 private:
  friend class ConnectionRegistry;

  // One direction: bytes go from `src` to `dst`.
  struct Half final : net::TransferObserver {
    Half(Connection& c, Direction d, net::Conn& from, net::Conn& to)
        : conn(c), dir(d), src(from), dst(to) {}
    void on_transferred(size_t n) override;  // counts bytes, records activity

    Connection& conn;
    const Direction dir;
    net::Conn& src;
    net::Conn& dst;
    std::atomic<uint64_t> bytes{0};
    net::SpliceCarry carry;  // bytes in flight when a write timed out
  };

  // The deadline rule, the one place it is written: when the connection expires if
  // nothing moves, and why.
  struct Expiry {
    Time at = kNoDeadline;
    CloseCause cause = CloseCause::none;
  };
  Expiry expiry() const;

  // Bits of state_ (see the drawing above).
  static constexpr uint32_t kDoneC2U = 1, kDoneU2C = 2, kFirstU2C = 4, kAborting = 8, kReset = 16;
  static constexpr uint32_t done_bit(Direction d) {
    return d == Direction::client_to_upstream ? kDoneC2U : kDoneU2C;
  }

  Half& half(Direction d) { return halves_[static_cast<int>(d)]; }
  Half& other(const Half& h) { return halves_[1 - static_cast<int>(h.dir)]; }
  bool has(uint32_t bits) const { return (state_.load() & bits) != 0; }
  // "client" or "upstream": the side a direction reads from.
  static const char* source_name(Direction d);

  std::error_code dial(std::string* failures, bool* no_endpoint);
  std::error_code connect_to(const net::SocketAddress& address, Time deadline);
  void pump(Half& h);
  bool after_transfer(Half& h, const net::SpliceResult& r);
  bool pass_end_of_stream(Half& h);
  void arm(Half& h);
  void finish(CloseCause cause);
  bool decide(CloseCause cause);
  void record_end();

  const std::string listener_;
  const std::shared_ptr<ClusterState> cluster_;
  ConnectionRegistry& registry_;
  net::Conn client_;
  net::Conn upstream_;  // assigned under lock_ when each connect attempt starts
  const net::SocketAddress peer_;
  EndpointState* endpoint_ = nullptr;
  std::shared_ptr<Host> host_;  // the address connected to, with its health
  net::SocketAddress upstream_address_;

  const Time start_;
  const Duration idle_timeout_, fin_timeout_;  // zero: off
  const Time max_deadline_;                    // kNoDeadline when max_duration is off
  Duration connect_time_{};                    // accept to connected
  std::atomic<Time> last_activity_;

  std::atomic<uint32_t> state_{0};
  std::atomic<CloseCause> cause_{CloseCause::none};
  sched::SpinLock lock_;
  WaitGroup pumps_;  // the upstream -> client pump goroutine
  Half halves_[2] = {{*this, Direction::client_to_upstream, client_, upstream_},
                     {*this, Direction::upstream_to_client, upstream_, client_}};

  Connection* prev_ = nullptr;  // ConnectionRegistry
  Connection* next_ = nullptr;
};

// log_debug and log_warn for a connection: the line starts with its log_prefix().
#define conn_debug(conn, ...) log_debug((conn).log_prefix(), __VA_ARGS__)
#define conn_warn(conn, ...) log_warn((conn).log_prefix(), __VA_ARGS__)

}  // namespace parkway::proxy
