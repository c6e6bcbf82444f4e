#include "proxy/listener.h"

#include "proxy/log/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

ListenerState::ListenerState(conf::Listener config, net::Listener socket,
                             std::shared_ptr<ClusterState> cluster, ServerHooks hooks)
    : config_(std::move(config)), cluster_(std::move(cluster)), hooks_(hooks) {
  if (auto a = socket.local_address()) bound_ = *a;
  loop_ =
      std::make_shared<AcceptLoop>(std::move(socket),
                                   AcceptLoop::Options{.name = "listener " + quoted(config_.name),
                                                       .limit = config_.max_connections,
                                                       .tracked = &hooks_.connections,
                                                       .budget = hooks_.budget},
                                   [this](net::Conn conn, const net::SocketAddress& peer) {
                                     return make(std::move(conn), peer);
                                   });
}

ListenerState::~ListenerState() { stop(); }

conf::Listener ListenerState::config() const {
  sched::SpinGuard g(lock_);
  return config_;
}

std::shared_ptr<ClusterState> ListenerState::cluster() const {
  sched::SpinGuard g(lock_);
  return cluster_;
}

void ListenerState::start() { loop_->start(); }

void ListenerState::stop() { loop_->stop(); }

void ListenerState::update(const conf::Listener& config, std::shared_ptr<ClusterState> cluster) {
  {
    sched::SpinGuard g(lock_);
    config_ = config;
    cluster_ = std::move(cluster);
  }
  loop_->rename("listener " + quoted(config.name));
  loop_->set_limit(config.max_connections);
}

void ListenerState::set_backlog(int backlog) { loop_->socket().set_backlog(backlog); }

// On the accepting goroutine: the connection takes the listener's name and cluster of
// this moment (a reload may change them for later ones).
std::unique_ptr<Accepted> ListenerState::make(net::Conn conn, const net::SocketAddress& peer) {
  sched::SpinGuard g(lock_);
  return std::make_unique<Connection>(config_.name, cluster_, std::move(conn), peer,
                                      hooks_.registry);
}

}  // namespace parkway::proxy
