#include "proxy/connection.h"

#include <algorithm>

#include "proxy/backoff.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

// ---- ConnectionRegistry -----------------------------------------------------------------

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

std::string describe_failure(std::error_code ec, Duration timeout) {
  if (net::is_timeout(ec)) {
    return "timed out after " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
           "ms";
  }
  if (net::is_refused(ec)) return "refused";
  return ec.message();
}

// What passive ejection says of a failed connect: "connect refused 5 times in a row".
std::string connect_failure_reason(std::error_code ec) {
  switch (classify_connect_failure(ec)) {
    case ConnectFailure::refused: return "connect refused";
    case ConnectFailure::timeout: return "connect timed out";
    case ConnectFailure::unreachable: return "unreachable";
    case ConnectFailure::reset: return "reset while connecting";
    case ConnectFailure::other: break;
  }
  return "connect failed: " + ec.message();
}

int64_t whole(Duration d, auto unit) {
  return std::chrono::duration_cast<decltype(unit)>(d).count();
}

}  // namespace

void Connection::Half::on_transferred(size_t n) {
  // The upstream's first byte: it accepted and answers, which ends a run of failures.
  if (dir == Direction::upstream_to_client && bytes.load(std::memory_order_relaxed) == 0) {
    conn.cluster_->connect_succeeded(*conn.host_);
  }
  bytes.fetch_add(n, std::memory_order_relaxed);
  conn.last_activity_.store(now(), std::memory_order_relaxed);
  EndpointCounters& ec = conn.endpoint_->counters;
  bump(dir == Direction::client_to_upstream ? ec.bytes_sent : ec.bytes_received, n);
}

Connection::Connection(std::string listener, std::shared_ptr<ClusterState> cluster,
                       net::Conn client, net::SocketAddress peer, ConnectionRegistry& registry)
    : listener_(std::move(listener)),
      cluster_(std::move(cluster)),
      registry_(registry),
      client_(std::move(client)),
      peer_(peer),
      start_(now()),
      idle_timeout_(cluster_->config().idle_timeout),
      fin_timeout_(cluster_->config().fin_timeout),
      max_deadline_(cluster_->config().max_duration > Duration::zero()
                        ? add_saturating(start_, cluster_->config().max_duration)
                        : kNoDeadline),
      last_activity_(start_) {}

std::string Connection::log_prefix() const {
  return "listener " + quoted(listener_) + ": client " + peer_.to_string();
}

const char* Connection::source_name(Direction d) {
  return d == Direction::client_to_upstream ? "client" : "upstream";
}

namespace {

// The cause of a connection whose direction `d` found its source reset.
CloseCause reset_of_source(Direction d) {
  return d == Direction::client_to_upstream ? CloseCause::client_reset : CloseCause::upstream_reset;
}

}  // namespace

bool Connection::decide(CloseCause cause) {
  CloseCause none = CloseCause::none;
  return cause_.compare_exchange_strong(none, cause);
}

void Connection::abort(CloseCause cause) {
  decide(cause);
  state_.fetch_or(kAborting);
  // Deadlines in the past wake both pumps at once; they see kAborting and finish.
  const Time past = now() - 1s;
  client_.set_deadline(past);
  sched::SpinGuard g(lock_);
  upstream_.set_deadline(past);
}

Connection::Expiry Connection::expiry() const {
  const bool half_closed = has(kDoneC2U | kDoneU2C);
  const bool fin = half_closed && fin_timeout_ > Duration::zero();
  const Duration limit = fin ? fin_timeout_ : idle_timeout_;
  Expiry e;
  if (limit > Duration::zero()) {
    e.at = add_saturating(last_activity_.load(std::memory_order_relaxed), limit);
    e.cause = fin ? CloseCause::fin_timeout : CloseCause::idle_timeout;
  }
  if (max_deadline_ <= e.at) {
    e.at = max_deadline_;
    e.cause = CloseCause::max_duration;
  }
  return e;
}

void Connection::arm(Half& h) {
  const Time t = expiry().at;
  h.src.set_read_deadline(t);
  // A pump parked on a write to a peer that has stopped reading is the only goroutine
  // that reads `src`, so nothing would notice `src` being reset meanwhile (the other pump
  // is parked on the other socket): the connection, and the stalled peer's socket, would
  // be held until a timeout. So a write wakes at least every kPeerCheck to look at `src`
  // (after_transfer()). The cost: a stalled write wakes once per kPeerCheck; and after a
  // read that waited longer than that, the write deadline has passed, so the first write
  // of the burst times out at once, keeps its bytes in the carry, and goes round the loop
  // once more (one poll(2) and one re-arm per burst after a pause).
  h.dst.set_write_deadline(std::min(t, deadline_after(kPeerCheck)));
  // Checked after setting: abort() sets the flag, then the past deadlines. Either we see
  // the flag here, or its past deadlines land after ours (the PollDesc lock orders them).
  if (has(kAborting)) {
    const Time past = now() - 1s;
    h.src.set_read_deadline(past);
    h.dst.set_write_deadline(past);
  }
}

// Ends the connection abortively: both sockets closed with RST (a peer must not mistake
// a cut-off stream for a complete one). The first cause decided wins. Closing wakes the
// other pump, parked on these sockets, with Errc::closed.
void Connection::finish(CloseCause cause) {
  decide(cause);
  {
    sched::SpinGuard g(lock_);
    if (state_.fetch_or(kReset) & kReset) return;
  }
  client_.close_with_reset();
  upstream_.close_with_reset();
}

// One connect attempt, on upstream_ from its start: abort() reaches a connect in progress
// (it puts upstream_'s deadlines in the past under lock_), so a drain that runs out does
// not wait for a connect_timeout. On failure upstream_ is empty again.
std::error_code Connection::connect_to(const net::SocketAddress& address, Time deadline) {
  auto started = net::Conn::start_dial(address, deadline);
  if (!started) return started.error();
  {
    sched::SpinGuard g(lock_);
    upstream_ = std::move(*started);
  }
  // Checked after storing: abort() sets the flag, then the past deadlines under lock_.
  // Either it saw upstream_ (and set its deadline), or we see the flag here.
  if (has(kAborting)) upstream_.set_write_deadline(now() - 1s);
  const std::error_code ec = upstream_.finish_dial();
  if (ec) {
    net::Conn failed;
    {
      sched::SpinGuard g(lock_);
      failed = std::move(upstream_);
    }
    failed.close();
    return ec;
  }
  upstream_.set_write_deadline(kNoDeadline);
  return {};
}

std::error_code Connection::dial(std::string* failures, bool* no_endpoint) {
  const conf::Cluster& cfg = cluster_->config();
  Tried tried;
  std::error_code last = net::Errc::closed;
  for (int attempt = 0; attempt < cfg.connect_attempts; attempt++) {
    if (has(kAborting)) break;
    auto chosen = cluster_->pick(tried);
    if (!chosen) {
      if (attempt == 0) *no_endpoint = true;
      break;
    }
    EndpointState* ep = chosen->endpoint;
    const net::SocketAddress* addr = &chosen->address;
    tried.add(chosen.get());
    ep->active.fetch_add(1, std::memory_order_relaxed);
    chosen->health->active.fetch_add(1, std::memory_order_relaxed);
    bump(ep->counters.connects);
    const Time attempt_deadline = deadline_after(cfg.connect_timeout);
    std::error_code ec = connect_to(*addr, attempt_deadline);
    // Out of descriptors (or kernel memory) for the upstream socket is this process's
    // condition, not the endpoint's: failing now would close a client that was just
    // accepted (an empty stream, or a reset if it had sent bytes) and blame a healthy
    // endpoint. Wait for a descriptor instead, backing off as the accept loops do, within
    // this attempt's connect_timeout: the client waits as it would in the backlog.
    Backoff backoff(5ms, 100ms);
    while (ec && net::is_resource_exhausted(ec) && now() < attempt_deadline && !has(kAborting)) {
      const Duration wait = backoff.next();
      if (uint64_t suppressed = 0; backoff.log_due(&suppressed)) {
        conn_warn(*this, ": no descriptor for a connection to ", addr->to_string(), " (",
                  ec.message(), "); waiting for one", suppressed_note(suppressed));
      }
      sleep_for(std::min<Duration>(wait, attempt_deadline - now()));
      ec = connect_to(*addr, attempt_deadline);
    }
    if (!ec) {
      endpoint_ = ep;
      host_ = std::move(chosen);
      upstream_address_ = *addr;
      return {};
    }
    ep->active.fetch_sub(1, std::memory_order_relaxed);
    chosen->health->active.fetch_sub(1, std::memory_order_relaxed);
    if (has(kAborting)) break;  // cut short by abort(): the endpoint is not to blame
    if (!net::is_resource_exhausted(ec))
      cluster_->connect_failed(*chosen, connect_failure_reason(ec));
    bump(ep->counters.connect_failures[static_cast<size_t>(classify_connect_failure(ec))]);
    last = ec;
    // A dead endpoint must not be silent: one line per endpoint every 10 s at most, with
    // the reason, whether or not a retry then served this client.
    if (uint64_t suppressed = 0; ep->failure_log.allow(&suppressed)) {
      log_warn("cluster ", quoted(cluster_->name()), ": endpoint ", ep->name(),
               ep->is_dns_name() ? " (" + addr->to_string() + ")" : std::string(),
               ": connect failed: ", describe_failure(ec, cfg.connect_timeout),
               suppressed > 0
                   ? " (" + std::to_string(suppressed) + " more failures since the last message)"
                   : std::string());
    }
    if (!failures->empty()) *failures += "; ";
    *failures += ep->name();
    if (ep->is_dns_name()) *failures += " (" + addr->to_string() + ")";
    *failures += ": " + describe_failure(ec, cfg.connect_timeout);
  }
  return last;
}

// The loop a pump goroutine idles in, parked in splice(): its frame is kept small (what
// the two pumps share lives in the Connection), since an idle pump's live stack is what
// the runtime keeps aside when it releases the stack's pages.
void Connection::pump(Half& h) {
  do {
    arm(h);
  } while (after_transfer(
      h, net::splice(h.dst.fd(), h.src.fd(), &h, net::SpliceMode::automatic, &h.carry)));
}

// An end of stream on h.src: passes it on as a FIN (half-close), unless it is a reset in
// disguise or the connection is being reset. Returns whether it was passed on.
//
// An end of stream can be a reset in disguise. The kernel reports a reset once: if the
// other pump's write to `src` took it, our read then sees a plain end of stream. While the
// other direction is still open (we have not sent `src` our FIN), a peer that ended in
// order leaves `src` in CLOSE_WAIT; only a reset takes it to CLOSE. Passing a reset on as
// an end of stream would let the other peer take a cut-off stream for a complete one.
// Under lock_: once the other pump has begun to reset the connection (finish()), `src`
// may be closed already and its state unreadable, and no FIN may go out ahead of the
// resets.
[[gnu::noinline]] bool Connection::pass_end_of_stream(Half& h) {
  sched::SpinGuard g(lock_);
  const uint32_t s = state_.load();
  if (s & kReset) return true;  // being reset: nothing to pass on, nothing to do
  const bool other_done = s & done_bit(other(h).dir);
  if (!other_done && h.src.was_reset()) return false;
  // Recorded before the FIN goes out: once the peer sees it, it may answer with its own
  // end of stream, and the other pump must find this direction finished (first), both so
  // that the close cause names the right side and so that its check above never mistakes
  // our FIN's effect for a reset.
  const bool first = !other_done && h.dir == Direction::upstream_to_client;
  state_.fetch_or(done_bit(h.dir) | (first ? kFirstU2C : 0));
  h.dst.shutdown_write();
  return true;
}

// What a splice() that returned means: false when this direction is finished.
[[gnu::noinline]] bool Connection::after_transfer(Half& h, const net::SpliceResult& r) {
  if (r.end == net::TransferEnd::eof) {
    if (!pass_end_of_stream(h)) {
      conn_debug(*this, ": ", source_name(h.dir), " -> ", source_name(other(h).dir),
                 ": end of stream after a reset");
      finish(reset_of_source(h.dir));
      return false;
    }
    // The other direction now lives under fin_timeout: move its deadlines.
    if (!has(done_bit(other(h).dir) | kReset)) arm(other(h));
    return false;
  }
  if (has(kAborting)) {
    finish(cause_.load());
    return false;
  }
  if (net::is_closed(r.error)) return false;  // the other pump finished the connection
  if (net::is_timeout(r.error)) {
    const Expiry e = expiry();
    if (e.cause != CloseCause::none && now() >= e.at) {
      finish(e.cause);
      return false;
    }
    // Parked on a write (see arm()): has the side we read from been reset meanwhile?
    if (r.end == net::TransferEnd::write_error && h.src.pending_error()) {
      conn_debug(*this, ": ", source_name(h.dir), " -> ", source_name(other(h).dir),
                 ": reset by the ", source_name(h.dir), " while the other side was not reading");
      finish(reset_of_source(h.dir));
      return false;
    }
    return true;  // bytes moved the other way meanwhile: wait on (a write keeps its carry)
  }
  // A real error: on which side? A read error is on the source's side, a write error on
  // the destination's.
  const bool on_client =
      (r.end == net::TransferEnd::read_error) == (h.dir == Direction::client_to_upstream);
  CloseCause cause;
  if (net::is_reset(r.error)) {
    cause = on_client ? CloseCause::client_reset : CloseCause::upstream_reset;
  } else {
    cause = on_client ? CloseCause::client_error : CloseCause::upstream_error;
  }
  conn_debug(*this, ": ", source_name(h.dir), " -> ", source_name(other(h).dir), ": ",
             r.error.message());
  finish(cause);
  return false;
}

// Counts the close cause and writes the access log line.
void Connection::record_end() {
  const CloseCause cause = cause_.load();
  bump(cluster_->counters.closed[static_cast<size_t>(cause)]);
  if (!access_log::enabled()) return;
  access_log::Record r;
  r.listener = listener_;
  r.client = peer_.to_string();
  if (endpoint_ != nullptr) {
    r.endpoint = endpoint_->name();
    r.upstream = upstream_address_.to_string();
  }
  r.connect_ms = std::chrono::duration<double, std::milli>(connect_time_).count();
  r.duration_ms = std::chrono::duration<double, std::milli>(now() - start_).count();
  r.bytes_client_to_upstream = half(Direction::client_to_upstream).bytes.load();
  r.bytes_upstream_to_client = half(Direction::upstream_to_client).bytes.load();
  const uint32_t s = state_.load();
  r.first_fin = (s & kFirstU2C) ? "upstream" : (s & kDoneC2U) ? "client" : "none";
  r.cause = std::string(to_string(cause));
  access_log::record(r);
}

void Connection::serve() {
  release_stack_when_idle();
  registry_.add(this);
  client_.set_nodelay(true);
  std::string failures;
  bool no_endpoint = false;
  if (dial(&failures, &no_endpoint)) {
    decide(no_endpoint ? CloseCause::no_endpoint : CloseCause::connect_failed);
    if (no_endpoint) {
      conn_warn(*this, ": cluster ", quoted(cluster_->name()),
                " has no endpoint with an address; closing");
    } else if (!has(kAborting)) {
      conn_warn(*this, ": cannot connect to cluster ", quoted(cluster_->name()), ": ", failures,
                "; closing");
    }
    client_.close();  // promptly, and with a FIN: nothing was sent either way
    record_end();
    registry_.remove(this);
    return;
  }
  upstream_.set_nodelay(true);
  connect_time_ = now() - start_;
  conn_debug(*this, " -> ", endpoint_->name(), " (", upstream_address_.to_string(),
             ") connected in ", whole(connect_time_, std::chrono::microseconds{}), "us");
  last_activity_.store(now());

  pumps_.add(1);
  go([this] {
    release_stack_when_idle();
    pump(half(Direction::upstream_to_client));
    pumps_.done();
  });
  pump(half(Direction::client_to_upstream));
  pumps_.wait();
  // Bytes still carried (a write that timed out) go nowhere now: drop them before the
  // connection is reported closed.
  halves_[0].carry.clear();
  halves_[1].carry.clear();

  // Both directions reached end of stream: a complete, orderly close.
  decide(has(kFirstU2C) ? CloseCause::upstream_eof : CloseCause::client_eof);
  if (!has(kReset)) {
    client_.close();
    upstream_.close();
  }
  endpoint_->active.fetch_sub(1, std::memory_order_relaxed);
  host_->health->active.fetch_sub(1, std::memory_order_relaxed);
  // For passive ejection: an upstream that reset (or failed) before it sent a byte failed
  // this connection as surely as a refused connect; an orderly end is a success.
  const CloseCause cause = cause_.load();
  const bool silent = half(Direction::upstream_to_client).bytes.load() == 0;
  if (silent && (cause == CloseCause::upstream_reset || cause == CloseCause::upstream_error)) {
    cluster_->connect_failed(*host_, "reset after accept");
  } else if (silent && (cause == CloseCause::client_eof || cause == CloseCause::upstream_eof)) {
    cluster_->connect_succeeded(*host_);
  }
  record_end();
  registry_.remove(this);
  conn_debug(*this, " -> ", endpoint_->name(), ": closed (", to_string(cause_.load()), ") after ",
             whole(now() - start_, std::chrono::milliseconds{}), "ms, client->upstream ",
             half(Direction::client_to_upstream).bytes.load(), " bytes, upstream->client ",
             half(Direction::upstream_to_client).bytes.load(), " bytes");
}

}  // namespace parkway::proxy
