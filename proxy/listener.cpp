#include "proxy/listener.h"

#include <sys/socket.h>

#include "proxy/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

using namespace std::chrono_literals;

ListenerState::ListenerState(conf::Listener config, net::Listener socket,
                             std::shared_ptr<ClusterState> cluster, ServerHooks hooks)
    : config_(std::move(config)),
      cluster_(std::move(cluster)),
      socket_(std::move(socket)),
      hooks_(hooks),
      limit_(config_.max_connections) {
  if (auto a = socket_.local_address()) bound_ = *a;
}

conf::Listener ListenerState::config() const {
  sched::SpinGuard g(lock_);
  return config_;
}

std::shared_ptr<ClusterState> ListenerState::cluster() const {
  sched::SpinGuard g(lock_);
  return cluster_;
}

void ListenerState::start() {
  started_ = true;
  go([self = shared_from_this()] { self->accept_loop(); });
}

void ListenerState::stop() {
  stopping_.store(true);
  socket_.close();          // wakes the accept: Errc::closed
  slot_freed_.try_send(0);  // wakes a wait for a free slot
  if (started_) stopped_.wait();
}

void ListenerState::update(const conf::Listener& config, std::shared_ptr<ClusterState> cluster) {
  {
    sched::SpinGuard g(lock_);
    config_ = config;
    cluster_ = std::move(cluster);
  }
  limit_.store(config.max_connections);
  slot_freed_.try_send(0);  // a raised limit frees slots at once
}

void ListenerState::set_backlog(int backlog) {
  socket_.fd().with_fd([backlog](int s) { return ::listen(s, backlog) == 0 ? 0 : -net::current_errno(); });
}

void ListenerState::connection_done() {
  active_.fetch_sub(1);
  int one = 1;
  slot_freed_.try_send(one);
}

void ListenerState::accept_loop() {
  Duration backoff = Duration::zero();
  Time last_exhaustion_log{};
  uint64_t exhaustion_suppressed = 0;
  const std::string name = config().name;
  while (!stopping_.load()) {
    // At the limit: wait until a connection closes. The kernel queues new clients.
    if (active_.load() >= limit_.load()) {
      bump(counters.max_connections_reached);
      while (active_.load() >= limit_.load() && !stopping_.load()) slot_freed_.recv();
      continue;
    }
    net::SocketAddress peer;
    auto c = socket_.accept(&peer);
    if (!c) {
      const std::error_code ec = c.error();
      if (net::is_closed(ec) || stopping_.load()) break;
      if (net::is_resource_exhausted(ec)) {
        // Out of descriptors or memory: back off instead of spinning on accept.
        bump(counters.accept_resource_errors);
        backoff = backoff == Duration::zero() ? Duration(5ms) : std::min<Duration>(backoff * 2, 1s);
        if (now() - last_exhaustion_log >= 1s) {
          log_warn("listener ", quoted(name), ": accept: ", ec.message(), "; ",
                   active_.load(), " connections open; pausing accepts for ",
                   std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count(), "ms",
                   exhaustion_suppressed ? " (" + std::to_string(exhaustion_suppressed) +
                                               " more since the last message)"
                                         : std::string());
          last_exhaustion_log = now();
          exhaustion_suppressed = 0;
        } else {
          exhaustion_suppressed++;
        }
        sleep_for(backoff);
        continue;
      }
      log_warn("listener ", quoted(name), ": accept: ", ec.message());
      sleep_for(5ms);
      continue;
    }
    backoff = Duration::zero();
    bump(counters.accepted);
    active_.fetch_add(1);
    hooks_.connections.add(1);
    std::shared_ptr<ClusterState> cluster;
    std::string listener_name;
    {
      sched::SpinGuard g(lock_);
      cluster = cluster_;
      listener_name = config_.name;
    }
    // On the heap, and made here: the other pump and the registry use it, and the
    // connection's goroutine may have its stack pages released while it idles
    // (Connection::run), so its frames (the closure included) stay small.
    auto connection = std::make_unique<Connection>(std::move(listener_name), std::move(cluster),
                                                   std::move(*c), peer);
    go([self = shared_from_this(), connection = std::move(connection)]() mutable {
      connection->run(self->hooks_.registry);
      connection.reset();
      self->connection_done();
      self->hooks_.connections.done();
    });
  }
  stopped_.notify();
}

}  // namespace parkway::proxy
