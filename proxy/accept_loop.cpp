#include "proxy/accept_loop.h"

#include <fcntl.h>
#include <unistd.h>

#include "proxy/backoff.h"
#include "proxy/log/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

using namespace std::chrono_literals;

// ---- ConnectionLimit ------------------------------------------------------------------

bool ConnectionLimit::try_acquire() { return free_.try_acquire(); }

void ConnectionLimit::acquire() { free_.acquire(); }

bool ConnectionLimit::acquire_until(Time deadline) { return free_.acquire_until(deadline); }

void ConnectionLimit::release() {
  sched::SpinGuard g(lock_);
  if (owed_ > 0) {
    owed_--;  // the limit was lowered: this unit is not free any more
    return;
  }
  free_.release();
}

void ConnectionLimit::set_limit(int64_t limit) {
  sched::SpinGuard g(lock_);
  int64_t delta = limit - limit_;
  limit_ = limit;
  if (delta > 0) {
    const int64_t forgiven = std::min(owed_, delta);
    owed_ -= forgiven;
    if (delta > forgiven) free_.release(delta - forgiven);
  } else {
    for (; delta < 0 && free_.try_acquire(); delta++) {
    }
    owed_ -= delta;  // what could not be taken now is kept as it comes back
  }
}

// ---- AcceptLoop -----------------------------------------------------------------------

AcceptLoop::AcceptLoop(net::Listener socket, Options options, Make make)
    : socket_(std::move(socket)),
      keep_reserve_(options.keep_reserve),
      tracked_(options.tracked),
      budget_(options.budget),
      make_(std::move(make)),
      limit_(options.limit),
      name_(std::move(options.name)) {
  if (keep_reserve_) take_reserve();
}

AcceptLoop::~AcceptLoop() {
  const int fd = reserve_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

void AcceptLoop::start() {
  started_ = true;
  go([self = shared_from_this()] { self->run(); });
}

void AcceptLoop::stop() {
  if (stopping_.exchange(true)) return;
  socket_.close();     // wakes the accept: Errc::closed
  limit_.interrupt();  // wakes a wait for a free slot
  if (started_) stopped_.wait();
}

void AcceptLoop::rename(std::string name) {
  sched::SpinGuard g(name_lock_);
  name_ = std::move(name);
}

std::string AcceptLoop::name() const {
  sched::SpinGuard g(name_lock_);
  return name_;
}

void AcceptLoop::take_reserve() {
  if (reserve_.load() >= 0) return;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int none = -1;
  if (fd >= 0 && !reserve_.compare_exchange_strong(none, fd)) ::close(fd);
}

bool AcceptLoop::give_up_reserve() {
  const int fd = reserve_.exchange(-1);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

void AcceptLoop::run() {
  Backoff backoff(5ms, 1s);
  while (!stopping_.load()) {
    // At the limit: wait until a connection closes. The kernel queues new clients.
    if (!limit_.try_acquire()) {
      bump(counters.max_connections_reached);
      limit_.acquire();
      if (stopping_.load()) {
        limit_.release();
        break;
      }
    }
    // And a slot of the process's descriptor budget: a connection accepted is one whose
    // upstream socket is there to be had. (The budget is shared by every listener, so a
    // stop cannot wake this loop alone: it looks every 100 ms.)
    if (budget_ != nullptr && !budget_->try_acquire()) {
      bump(counters.descriptor_waits);
      bool taken = false;
      while (!taken && !stopping_.load()) taken = budget_->acquire_until(deadline_after(100ms));
      if (!taken) {
        limit_.release();
        break;
      }
    }
    if (keep_reserve_) take_reserve();  // if it was used, or could not be had before
    net::SocketAddress peer;
    auto c = socket_.accept(&peer);
    bool reserved = false;
    if (!c && net::is_resource_exhausted(c.error()) && keep_reserve_ &&
        socket_.connection_waiting() && give_up_reserve()) {
      reserved = true;
      c = socket_.accept(&peer);
    }
    if (!c) {
      limit_.release();
      if (budget_ != nullptr) budget_->release();
      if (reserved) take_reserve();
      const std::error_code ec = c.error();
      if (net::is_closed(ec) || stopping_.load()) break;
      if (net::is_resource_exhausted(ec)) {
        // Out of descriptors or memory: back off instead of spinning on accept.
        bump(counters.accept_resource_errors);
        const Duration wait = backoff.next();
        if (uint64_t suppressed = 0; backoff.log_due(&suppressed)) {
          log_warn(name(), ": accept: ", ec.message(), "; ", active(),
                   " connections open; pausing accepts for ",
                   std::chrono::duration_cast<std::chrono::milliseconds>(wait).count(), "ms",
                   suppressed_note(suppressed));
        }
        sleep_for(wait);
        continue;
      }
      log_warn(name(), ": accept: ", ec.message());
      sleep_for(5ms);
      continue;
    }
    backoff.reset();
    bump(counters.accepted);
    active_.fetch_add(1, std::memory_order_relaxed);
    if (tracked_) tracked_->add(1);
    // On the heap, and made here: the goroutine serving it may have its stack pages
    // released while it idles (Connection::run), so its frames (the closure included)
    // stay small.
    std::unique_ptr<Accepted> accepted = make_(std::move(*c), peer);
    go([self = shared_from_this(), accepted = std::move(accepted), reserved]() mutable {
      accepted->serve();
      accepted.reset();
      if (reserved) self->take_reserve();
      self->active_.fetch_sub(1, std::memory_order_relaxed);
      if (self->budget_ != nullptr) self->budget_->release();
      self->limit_.release();
      if (self->tracked_) self->tracked_->done();
    });
  }
  stopped_.notify();
}

}  // namespace parkway::proxy
