// A scriptable TCP peer: the client or the server end of a connection through parkway,
// made to behave exactly as a test needs, and to report exactly what it saw.
//
//   auto c = peer::Peer::connect(addr);                      // or a PeerServer's accept
//   peer::Script()
//       .send(1 << 20)                                        // 1 MiB of the peer's stream
//       .shut_wr()                                            // half-close: FIN
//       .recv(4096)                                           // exactly 4 KiB, verified
//       .eof()                                                // then a clean end of stream
//       .run(*c);
//   CHECK(c->ok());  // else c->failure() says which step failed and how
//
// The same script as text (Script::parse, and tools/peer on the command line):
//
//   "send 1M; shut_wr; recv 4K; eof"
//
// Bytes. Each direction of a connection carries a deterministic pseudo-random stream
// (tests/netpoll/helpers.h): byte i of stream `seed` is a function of (seed, i), so a
// byte lost, duplicated, reordered or altered anywhere changes what is expected at every
// later position. A peer sends its `out` stream and checks what it reads against its `in`
// stream, counting mismatches; it also keeps a 64-bit FNV-1a checksum of everything sent
// and received, which a test can compare across the proxy. The two ends of a connection
// agree on the seeds (set_streams) up front, or through a header sent with send_raw.
//
// Ends. A read ends in one of: a clean end of stream (FIN), a reset (RST, or EPIPE on a
// write), a timeout (the step's deadline), or another error. `eof()` demands the first,
// `expect_reset()` the second; `drain()` reads on to whichever comes and records it.
//
// Abortive and slow behaviour: reset() closes with SO_LINGER 0 (a RST); send_slowly and
// recv_slowly pace their chunks; stop_reading(d) reads nothing for d (backpressure builds
// up behind it); set_rcvbuf shrinks the receive buffer so that it does so sooner.
//
// Every step has a deadline (Peer::step_timeout, 30 s by default, scaled under
// sanitizers), so a script never hangs a test: a step that cannot finish fails with a
// timeout. Run peers in goroutines (they park, never block a thread); record failures
// with GO_CHECK from goroutines other than the test's main one.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netpoll/socket.h"
#include "scheduler/sync.h"
#include "scheduler/time.h"

namespace parkway::peer {

// How the reading side of a peer last ended.
enum class End {
  none,     // not ended (yet)
  eof,      // a clean end of stream
  reset,    // the peer reset the connection (ECONNRESET, EPIPE, ECONNABORTED)
  timeout,  // a step's deadline passed
  closed,   // we closed the connection ourselves
  error,    // anything else (see Peer::failure)
};
const char* to_string(End e);

// 64-bit FNV-1a, continued over several spans.
struct Checksum {
  uint64_t value = 0xcbf29ce484222325ULL;
  void add(std::span<const std::byte> bytes);
};

// What a peer did and saw.
struct Report {
  uint64_t sent = 0;        // bytes written (stream and raw)
  uint64_t received = 0;    // bytes read (stream and raw)
  uint64_t mismatches = 0;  // received stream bytes that differ from the expected stream
  Checksum sent_sum, received_sum;
  End end = End::none;  // how the last read ended, if one did
  // Whether any read or write saw a reset. The kernel reports a reset once: when the
  // writer of a Script::both() gets it, the reader's next read is a plain end of stream,
  // so `end` alone cannot tell a reset connection from a finished one. (Two flags: the
  // writer and the reader of a both() each set their own.)
  bool read_reset = false, write_reset = false;
  bool reset_seen() const { return read_reset || write_reset; }
  std::string failure;  // the first step that failed, and why; empty if none did
  bool ok() const { return failure.empty() && mismatches == 0; }
};

class Peer {
 public:
  explicit Peer(net::Conn conn);
  Peer(Peer&&) noexcept = default;
  Peer& operator=(Peer&&) noexcept = default;
  ~Peer() = default;

  // Connects to `addr`; the connection's error if that fails within `within`.
  static net::Result<Peer> connect(const net::SocketAddress& addr,
                                   Duration within = std::chrono::seconds(10));

  // The streams this peer sends (`out`) and expects (`in`), from position 0.
  void set_streams(uint64_t out_seed, uint64_t in_seed);
  // How long one step may take. Applies to the steps started after it is set.
  Duration step_timeout;

  // ---- Steps: each returns true on success; on failure it records failure() (the first
  //      failure is kept) and returns false. ----

  // Writes the next n bytes of the out stream, in chunks of up to `chunk`.
  bool send(uint64_t n, size_t chunk = 64 * 1024);
  // The same, one chunk every `every`.
  bool send_slowly(uint64_t n, size_t chunk, Duration every);
  // Writes `bytes` as they are (a header, say); not part of the out stream.
  bool send_raw(std::span<const std::byte> bytes);
  // Reads exactly the next n bytes of the in stream and checks them.
  bool recv(uint64_t n, size_t chunk = 64 * 1024);
  // The same, reading at most `chunk` bytes every `every`.
  bool recv_slowly(uint64_t n, size_t chunk, Duration every);
  // Reads exactly n bytes as they are (not checked against the in stream).
  std::optional<std::string> recv_raw(size_t n);
  // The next read is a clean end of stream: no more bytes, no reset.
  bool eof();
  // Reads (and checks) the in stream until it ends, however it ends; records end().
  // Fails only on a timeout. The bytes read are in report().received.
  bool drain();
  // drain(), then demands a clean end of stream after exactly `total` stream bytes in all.
  bool drain_eof(uint64_t total);
  // drain(), then demands a reset (at most `at_most` stream bytes before it, if given).
  bool expect_reset(std::optional<uint64_t> at_most = std::nullopt);
  // shutdown(SHUT_WR): a FIN; reading goes on.
  bool shut_wr();
  // SO_LINGER 0 and close: the other end sees a RST.
  void reset();
  // An orderly close (FIN, or a RST if unread bytes remain, as the kernel does).
  void close();
  // Does nothing for d: neither reads nor writes.
  void pause(Duration d);
  // SO_RCVBUF (the kernel doubles it). Keep it above twice the MSS (128 KiB on loopback):
  // a smaller buffer makes the sender crawl on zero-window probes.
  bool set_rcvbuf(int bytes);
  // Records a failure by hand (a custom step that failed); the first one is kept.
  void fail(const std::string& why);
  // Puts `prefix` in front of the failure recorded (Script names the failed step).
  void prefix_failure(const std::string& prefix);

  bool ok() const { return failure().empty() && report_.mismatches == 0; }
  std::string failure() const;
  End end() const { return report_.end; }
  // Call when no step is running.
  const Report& report() const { return report_; }
  uint64_t stream_received() const { return in_pos_; }
  uint64_t stream_sent() const { return out_pos_; }
  net::Conn& conn() { return conn_; }

 private:
  Time step_deadline() const { return now() + step_timeout; }
  // Reads up to buf.size() bytes before `deadline`, checking them against the in stream.
  // Returns the bytes read; 0 with end set on end of stream or an error.
  size_t read_some(std::span<std::byte> buf, Time deadline, End* end, std::error_code* ec);

  net::Conn conn_;
  // Guards report_.failure: the two halves of a Script::both() may fail at once. The
  // other fields of the report are each written by one side only (sent_* by the writer,
  // received_*, mismatches and end by the reader).
  std::unique_ptr<std::mutex> failure_mu_ = std::make_unique<std::mutex>();
  uint64_t out_seed_ = 1, in_seed_ = 2;
  uint64_t out_pos_ = 0, in_pos_ = 0;
  Report report_;
};

// A list of steps run in order on a Peer; the first that fails stops it.
class Script {
 public:
  using Custom = std::function<bool(Peer&)>;

  Script& send(uint64_t n, size_t chunk = 64 * 1024);
  Script& send_slowly(uint64_t n, size_t chunk, Duration every);
  Script& recv(uint64_t n, size_t chunk = 64 * 1024);
  Script& recv_slowly(uint64_t n, size_t chunk, Duration every);
  Script& eof();
  Script& drain();
  Script& drain_eof(uint64_t total);
  Script& expect_reset(std::optional<uint64_t> at_most = std::nullopt);
  Script& shut_wr();
  Script& reset();
  Script& close();
  Script& pause(Duration d);
  Script& stop_reading(Duration d);  // pause(), named for what it is for
  Script& set_rcvbuf(int bytes);
  // Runs `a` and `b` at the same time on this peer (say, a writer and a reader, so that
  // neither direction's buffers fill while the other waits); done when both are.
  Script& both(Script a, Script b);
  // Any step: `what` names it in failures.
  Script& call(std::string what, Custom step);

  // Runs the steps on `p`; returns p.ok(). A failure names the step: "step 3 (recv 4096):
  // end of stream after 100 of 4096 bytes".
  bool run(Peer& p) const;

  // Reads a script from text: steps separated by ';' or newlines, sizes with an optional
  // K, M or G suffix (powers of 1024), durations as in config files ("250ms", "1s"):
  //   send N [CHUNK]            send_slowly N CHUNK EVERY   recv N [CHUNK]
  //   recv_slowly N CHUNK EVERY eof                         drain
  //   drain_eof TOTAL           expect_reset [AT_MOST]      shut_wr
  //   reset                     close                       pause D
  //   stop_reading D            rcvbuf BYTES
  // Throws std::invalid_argument naming the bad step.
  static Script parse(std::string_view text);
  // The steps, one per line.
  std::string describe() const;
  bool empty() const { return steps_.empty(); }

 private:
  bool run_steps(Peer& p) const;
  struct Step {
    std::string what;
    Custom run;
  };
  std::vector<Step> steps_;
};

// A server on 127.0.0.1:0 that hands every accepted connection, as a Peer, to `handler`
// in a goroutine of its own, and keeps the handlers' reports.
//
// stop() (or the destructor) closes the listener, lets handlers finish on their own for
// up to `grace`, then closes (with a reset) the connections still open, which fails the
// steps parked on them, and waits for every handler to return.
class PeerServer {
 public:
  // `index` counts accepted connections from 0.
  using Handler = std::function<void(Peer& peer, int index)>;

  explicit PeerServer(Handler handler, net::ListenOptions options = {});
  ~PeerServer();
  PeerServer(const PeerServer&) = delete;
  PeerServer& operator=(const PeerServer&) = delete;

  // With accept_late, accepting starts only at release_accepts(): the kernel completes
  // handshakes into the backlog meanwhile, as for a server that is slow to accept.
  PeerServer(Handler handler, net::ListenOptions options, bool accept_late);
  void release_accepts();

  void stop(Duration grace = std::chrono::seconds(5));

  const net::SocketAddress& address() const { return address_; }
  std::string endpoint() const { return address_.to_string(); }
  int accepted() const { return accepted_.load(); }
  // Handlers that have returned.
  int finished() const { return finished_.load(); }
  // Waits until `n` handlers have returned, or `deadline`.
  bool wait_finished(int n, Time deadline);
  // Reports of the finished handlers, in the order they finished.
  std::vector<Report> reports() const;

 private:
  Handler handler_;
  net::Listener ln_;
  net::SocketAddress address_;
  std::atomic<int> accepted_{0}, finished_{0};
  Notification release_;
  WaitGroup running_;
  WaitGroup handlers_;
  mutable Mutex mu_;
  std::list<Peer*> open_;
  std::vector<Report> reports_;
  std::vector<std::shared_ptr<Notification>> finish_waiters_;
  bool stopped_ = false;
};

}  // namespace parkway::peer
