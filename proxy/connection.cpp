#include "proxy/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "netpoll/splice.h"
#include "proxy/access_log.h"
#include "proxy/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

// ---- ConnectionRegistry -----------------------------------------------------------------

// BasicLockGuard, not std::lock_guard: it carries the annotations clang's -Wthread-safety
// needs to see mu_ held.

void ConnectionRegistry::add(Connection* c) {
  MutexLock g(mu_);
  c->prev_ = nullptr;
  c->next_ = head_;
  if (head_) head_->prev_ = c;
  head_ = c;
  count_++;
}

void ConnectionRegistry::remove(Connection* c) {
  MutexLock g(mu_);
  if (c->prev_) {
    c->prev_->next_ = c->next_;
  } else {
    head_ = c->next_;
  }
  if (c->next_) c->next_->prev_ = c->prev_;
  c->prev_ = c->next_ = nullptr;
  count_--;
}

size_t ConnectionRegistry::abort_all(CloseCause cause) {
  MutexLock g(mu_);
  for (Connection* c = head_; c; c = c->next_) c->abort(cause);
  return count_;
}

size_t ConnectionRegistry::size() {
  MutexLock g(mu_);
  return count_;
}

// ---- Connection ---------------------------------------------------------------------------

namespace {

using namespace std::chrono_literals;

// How often a pump parked on a write looks whether the side it reads from was reset.
constexpr Duration kPeerCheck = 1s;

int64_t ns_of(Duration d) { return d.count(); }

Time time_of(int64_t ns) { return Time(Duration(ns)); }

std::string describe_failure(std::error_code ec, Duration timeout) {
  if (net::is_timeout(ec)) {
    return "timed out after " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
           "ms";
  }
  if (net::is_refused(ec)) return "refused";
  return ec.message();
}

// Whether a socket has an error pending (a reset received, say), without consuming it:
// poll(2) reports POLLERR while the socket's error is set. POLLHUP alone is no error: it
// is also what a socket that finished both ways in order reports.
bool has_pending_error(net::Conn& c) {
  return c.fd().with_fd([](int s) {
    pollfd p{s, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0 ? 1 : 0;
  }) == 1;
}

// Whether a connected socket was reset: TCP_CLOSE is where a reset leaves it (an orderly
// end of stream from the peer leaves it in CLOSE_WAIT, while our side is open).
bool was_reset(net::Conn& c) {
  return c.fd().with_fd([](int s) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_state == TCP_CLOSE ? 1 : 0;
  }) == 1;
}

const char* direction_name(Direction d) {
  return d == Direction::client_to_upstream ? "client->upstream" : "upstream->client";
}

}  // namespace

// Counts bytes and records activity as the transfer of one direction goes.
void Connection::Pump::on_transferred(size_t n) {
  c_.bytes_[static_cast<int>(d_)].fetch_add(n, std::memory_order_relaxed);
  c_.last_activity_ns_.store(sched::nanotime(), std::memory_order_relaxed);
  EndpointCounters& ec = c_.endpoint_->counters;
  bump(d_ == Direction::client_to_upstream ? ec.bytes_sent : ec.bytes_received, n);
}

Connection::Connection(std::string listener, std::shared_ptr<ClusterState> cluster,
                       net::Conn client, net::SocketAddress peer)
    : listener_(std::move(listener)),
      cluster_(std::move(cluster)),
      client_(std::move(client)),
      peer_(peer),
      start_(now()),
      idle_ns_(ns_of(cluster_->config().idle_timeout)),
      fin_ns_(ns_of(cluster_->config().fin_timeout)),
      max_deadline_(cluster_->config().max_duration > Duration::zero()
                        ? start_ + cluster_->config().max_duration
                        : kNoDeadline),
      last_activity_ns_(sched::to_nanos(start_)) {}

bool Connection::set_cause(CloseCause cause) {
  int expected = -1;
  return cause_.compare_exchange_strong(expected, static_cast<int>(cause));
}

void Connection::abort(CloseCause cause) {
  set_cause(cause);
  abort_requested_.store(true);
  // Deadlines in the past wake both pumps at once; they see abort_requested_ and finish.
  const Time past = now() - std::chrono::seconds(1);
  client_.set_deadline(past);
  sched::SpinGuard g(upstream_lock_);
  upstream_.set_deadline(past);
}

Time Connection::deadline() const {
  const bool half = done_[0].load() || done_[1].load();
  const int64_t limit = half && fin_ns_ > 0 ? fin_ns_ : idle_ns_;
  Time d = kNoDeadline;
  if (limit > 0) d = time_of(last_activity_ns_.load(std::memory_order_relaxed) + limit);
  return std::min(d, max_deadline_);
}

void Connection::arm(Direction d) {
  net::Conn& src = d == Direction::client_to_upstream ? client_ : upstream_;
  net::Conn& dst = d == Direction::client_to_upstream ? upstream_ : client_;
  const Time t = deadline();
  src.set_read_deadline(t);
  // A pump parked on a write to a peer that has stopped reading is the only goroutine
  // that reads `src`, so nothing would notice `src` being reset meanwhile (the other pump
  // is parked on the other socket): the connection, and the stalled peer's socket, would
  // be held until a timeout. So a write wakes at least every kPeerCheck to look at `src`
  // (pump(), below). The cost: a stalled write wakes once per kPeerCheck; and after a read
  // that waited longer than that, the write deadline has passed, so the first write of
  // the burst times out at once, keeps its bytes in the carry, and goes round the loop
  // once more (one poll(2) and one re-arm per burst after a pause).
  dst.set_write_deadline(std::min(t, now() + kPeerCheck));
  // Checked after setting: abort() sets the flag, then the past deadlines. Either we see
  // the flag here, or its past deadlines land after ours (the PollDesc lock orders them).
  if (abort_requested_.load()) {
    const Time past = now() - std::chrono::seconds(1);
    src.set_read_deadline(past);
    dst.set_write_deadline(past);
  }
}

// Ends the connection abortively: both sockets closed with RST (a peer must not mistake
// a cut-off stream for a complete one). The first cause decided wins. Closing wakes the
// other pump, parked on these sockets, with Errc::closed.
void Connection::finish(CloseCause cause) {
  set_cause(cause);
  {
    // Ordered against a pump passing an end of stream on (after_transfer): either that
    // FIN goes out first, or the pump sees this and sends none.
    sched::SpinGuard g(end_lock_);
    if (closed_abortively_.exchange(true)) return;
  }
  client_.close_with_reset();
  upstream_.close_with_reset();
}

net::Result<net::Conn> Connection::dial(std::string* failures, bool* no_endpoint) {
  const conf::Cluster& cfg = cluster_->config();
  std::vector<bool> tried(cluster_->endpoints().size(), false);
  std::error_code last = net::Errc::closed;
  for (int attempt = 0; attempt < cfg.connect_attempts; attempt++) {
    if (abort_requested_.load()) break;
    EndpointState* ep = cluster_->pick(tried);
    if (ep == nullptr) {
      if (attempt == 0) *no_endpoint = true;
      break;
    }
    const size_t index = static_cast<size_t>(
        std::find_if(cluster_->endpoints().begin(), cluster_->endpoints().end(),
                     [ep](const auto& e) { return e.get() == ep; }) -
        cluster_->endpoints().begin());
    tried[index] = true;
    auto addr = ep->next_address();
    if (!addr) continue;  // its addresses went away since pick()
    ep->active.fetch_add(1, std::memory_order_relaxed);
    bump(ep->counters.connects);
    const Time attempt_deadline = now() + cfg.connect_timeout;
    auto c = net::Conn::dial(*addr, attempt_deadline);
    // Out of descriptors (or kernel memory) for the upstream socket is this process's
    // condition, not the endpoint's: failing now would close a client that was just
    // accepted (an empty stream, or a reset if it had sent bytes) and blame a healthy
    // endpoint. Wait for a descriptor instead, backing off as the listener does, within
    // this attempt's connect_timeout: the client waits as it would in the backlog.
    for (Duration backoff = 5ms; !c && net::is_resource_exhausted(c.error()) &&
                                 now() < attempt_deadline && !abort_requested_.load();
         backoff = std::min<Duration>(backoff * 2, 100ms)) {
      sleep_for(std::min<Duration>(backoff, attempt_deadline - now()));
      c = net::Conn::dial(*addr, attempt_deadline);
    }
    if (c) {
      endpoint_ = ep;
      upstream_address_ = *addr;
      return c;
    }
    ep->active.fetch_sub(1, std::memory_order_relaxed);
    bump(ep->counters.connect_failures[static_cast<size_t>(classify_connect_failure(c.error()))]);
    last = c.error();
    if (!failures->empty()) *failures += "; ";
    *failures += ep->name();
    if (ep->is_dns_name()) *failures += " (" + addr->to_string() + ")";
    *failures += ": " + describe_failure(c.error(), cfg.connect_timeout);
  }
  return last;
}

// The loop a pump goroutine idles in, parked in splice(): its frame is kept small (what
// the two pumps share lives in the Connection), since an idle pump's live stack is what
// the runtime keeps aside when it releases the stack's pages.
void Connection::pump(Direction d) {
  net::Conn& src = d == Direction::client_to_upstream ? client_ : upstream_;
  net::Conn& dst = d == Direction::client_to_upstream ? upstream_ : client_;
  const int i = static_cast<int>(d);
  do {
    arm(d);
  } while (after_transfer(d, net::splice(dst.fd(), src.fd(), &observers_[i],
                                          net::SpliceMode::automatic, &carries_[i])));
}

// What a splice() that returned means: false when this direction is finished.
[[gnu::noinline]] bool Connection::after_transfer(Direction d, const net::SpliceResult& r) {
  net::Conn& src = d == Direction::client_to_upstream ? client_ : upstream_;
  net::Conn& dst = d == Direction::client_to_upstream ? upstream_ : client_;
  const Direction other = d == Direction::client_to_upstream ? Direction::upstream_to_client
                                                             : Direction::client_to_upstream;
  if (r.end == net::TransferEnd::eof) {
    // An end of stream can be a reset in disguise. The kernel reports a reset once:
    // if the other pump's write to `src` took it, our read then sees a plain end of
    // stream. While the other direction is still open (we have not sent `src` our
    // FIN), a peer that ended in order leaves `src` in CLOSE_WAIT; only a reset takes it
    // to CLOSE. Passing a reset on as an end of stream would let the other peer take a
    // cut-off stream for a complete one. Under end_lock_: once the other pump has begun
    // to reset the connection (finish()), `src` may be closed already and its state
    // unreadable, and no FIN may go out ahead of the resets.
    bool reset = false;
    {
      sched::SpinGuard g(end_lock_);
      if (closed_abortively_.load()) return false;  // being reset: nothing to pass on
      reset = !done_[static_cast<int>(other)].load() && was_reset(src);
      if (!reset) {
        // Half-close: pass the end of stream on, keep the other direction going.
        // Record that this direction finished first before passing it on: once the
        // peer sees the end of stream it may answer with its own, and the other pump
        // must not record first (the close cause would name the wrong side). Done
        // before the FIN goes out, so that the other pump's check above never mistakes
        // our FIN's effect for a reset.
        int none = -1;
        first_fin_.compare_exchange_strong(none, static_cast<int>(d));
        done_[static_cast<int>(d)].store(true);
        dst.shutdown_write();
      }
    }
    if (reset) {
      log_debug("listener ", quoted(listener_), ": client ", peer_.to_string(), ": ",
                direction_name(d), ": end of stream after a reset");
      finish(d == Direction::client_to_upstream ? CloseCause::client_reset
                                                : CloseCause::upstream_reset);
      return false;
    }
    // The other direction now lives under fin_timeout: move its deadlines.
    if (!done_[static_cast<int>(other)].load()) arm(other);
    return false;
  }
  if (abort_requested_.load(std::memory_order_acquire)) {
    finish(static_cast<CloseCause>(cause_.load()));
    return false;
  }
  if (net::is_closed(r.error)) return false;  // the other pump finished the connection
  if (net::is_timeout(r.error)) {
    const int64_t t = sched::nanotime();
    if (max_deadline_ != kNoDeadline && t >= sched::to_nanos(max_deadline_)) {
      finish(CloseCause::max_duration);
      return false;
    }
    const bool half = done_[0].load() || done_[1].load();
    const bool fin = half && fin_ns_ > 0;
    const int64_t limit = fin ? fin_ns_ : idle_ns_;
    if (limit > 0 && t - last_activity_ns_.load() >= limit) {
      finish(fin ? CloseCause::fin_timeout : CloseCause::idle_timeout);
      return false;
    }
    // Parked on a write (see arm()): has the side we read from been reset meanwhile?
    if (r.end == net::TransferEnd::write_error && has_pending_error(src)) {
      log_debug("listener ", quoted(listener_), ": client ", peer_.to_string(), ": ",
                direction_name(d), ": reset by the ",
                d == Direction::client_to_upstream ? "client" : "upstream",
                " while the other side was not reading");
      finish(d == Direction::client_to_upstream ? CloseCause::client_reset
                                                : CloseCause::upstream_reset);
      return false;
    }
    return true;  // bytes moved the other way meanwhile: wait on (a write keeps its carry)
  }
  // A real error: which side?
  const bool on_client =
      (r.end == net::TransferEnd::read_error) == (d == Direction::client_to_upstream);
  CloseCause cause;
  if (net::is_reset(r.error)) {
    cause = on_client ? CloseCause::client_reset : CloseCause::upstream_reset;
  } else {
    cause = on_client ? CloseCause::client_error : CloseCause::upstream_error;
  }
  log_debug("listener ", quoted(listener_), ": client ", peer_.to_string(), ": ",
            direction_name(d), ": ", r.error.message());
  finish(cause);
  return false;
}

// Counts the close cause and writes the access log line.
void Connection::record_end() {
  const auto cause = static_cast<CloseCause>(cause_.load());
  bump(cluster_->counters.closed[static_cast<size_t>(cause)]);
  if (!access_log::enabled()) return;
  access_log::Record r;
  r.listener = listener_;
  r.client = peer_.to_string();
  if (endpoint_ != nullptr) {
    r.endpoint = endpoint_->name();
    r.upstream = upstream_address_.to_string();
  }
  r.connect_ms = static_cast<double>(connect_ns_) / 1e6;
  r.duration_ms = std::chrono::duration<double, std::milli>(now() - start_).count();
  r.bytes_client_to_upstream = bytes_[0].load();
  r.bytes_upstream_to_client = bytes_[1].load();
  const int fin = first_fin_.load();
  r.first_fin = fin == static_cast<int>(Direction::client_to_upstream)   ? "client"
                : fin == static_cast<int>(Direction::upstream_to_client) ? "upstream"
                                                                          : "none";
  r.cause = std::string(to_string(cause));
  access_log::record(r);
}

void Connection::run(ConnectionRegistry& registry) {
  release_stack_when_idle();
  registry.add(this);
  client_.set_nodelay(true);
  std::string failures;
  bool no_endpoint = false;
  auto up = dial(&failures, &no_endpoint);
  if (!up) {
    const CloseCause cause = no_endpoint ? CloseCause::no_endpoint : CloseCause::connect_failed;
    set_cause(cause);
    if (no_endpoint) {
      log_warn("listener ", quoted(listener_), ": client ", peer_.to_string(), ": cluster ",
               quoted(cluster_->name()), " has no endpoint with an address; closing");
    } else if (!abort_requested_.load()) {
      log_warn("listener ", quoted(listener_), ": client ", peer_.to_string(),
               ": cannot connect to cluster ", quoted(cluster_->name()), ": ", failures,
               "; closing");
    }
    client_.close();  // promptly, and with a FIN: nothing was sent either way
    record_end();
    registry.remove(this);
    return;
  }
  {
    sched::SpinGuard g(upstream_lock_);
    upstream_ = std::move(*up);
  }
  upstream_.set_nodelay(true);
  const auto connected_in = now() - start_;
  connect_ns_ = connected_in.count();
  log_debug("listener ", quoted(listener_), ": client ", peer_.to_string(), " -> ",
            endpoint_->name(), " (", upstream_address_.to_string(), ") connected in ",
            std::chrono::duration_cast<std::chrono::microseconds>(connected_in).count(), "us");
  last_activity_ns_.store(sched::nanotime());

  pumps_.add(1);
  go([this] {
    release_stack_when_idle();
    pump(Direction::upstream_to_client);
    pumps_.done();
  });
  pump(Direction::client_to_upstream);
  pumps_.wait();
  // Bytes still carried (a write that timed out) go nowhere now: drop them before the
  // connection is reported closed.
  carries_[0].clear();
  carries_[1].clear();

  if (cause_.load() < 0) {
    // Both directions reached end of stream: a complete, orderly close.
    set_cause(first_fin_.load() == static_cast<int>(Direction::client_to_upstream)
                  ? CloseCause::client_eof
                  : CloseCause::upstream_eof);
  }
  if (!closed_abortively_.load()) {
    client_.close();
    upstream_.close();
  }
  endpoint_->active.fetch_sub(1, std::memory_order_relaxed);
  record_end();
  registry.remove(this);
  log_debug("listener ", quoted(listener_), ": client ", peer_.to_string(), " -> ",
            endpoint_->name(), ": closed (", to_string(static_cast<CloseCause>(cause_.load())),
            ") after ",
            std::chrono::duration_cast<std::chrono::milliseconds>(now() - start_).count(),
            "ms, client->upstream ", bytes_[0].load(), " bytes, upstream->client ",
            bytes_[1].load(), " bytes");
}

}  // namespace parkway::proxy
