#include "proxy/server.h"

#include <signal.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "conf/diagnostic.h"
#include "proxy/log.h"
#include "proxy/signals.h"
#include "scheduler/runtime.h"

#ifndef PARKWAY_VERSION
#define PARKWAY_VERSION "unknown"
#endif

namespace parkway::proxy {
namespace {

constexpr int kDrained = -1;  // an event that is not a signal

net::SocketAddress socket_address(const conf::ListenAddress& a) {
  return a.family == conf::AddressFamily::ipv4 ? net::SocketAddress::ipv4(a.bytes.data(), a.port)
                                               : net::SocketAddress::ipv6(a.bytes.data(), a.port);
}

net::Result<net::Listener> bind_listener(const conf::Listener& l) {
  net::ListenOptions o;
  o.backlog = l.backlog;
  o.reuse_port = l.reuse_port;
  return net::Listener::listen(socket_address(l.address), o);
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string seconds(Duration d) {
  std::ostringstream s;
  s << std::chrono::duration<double>(d).count() << "s";
  return s.str();
}

// Logs each line of the formatted diagnostics (they echo the source line and a caret).
void log_diagnostics(const std::vector<conf::Diagnostic>& diagnostics, const char* prefix) {
  for (const auto& d : diagnostics) {
    std::istringstream lines(conf::format(d));
    std::string line;
    while (std::getline(lines, line)) {
      if (d.severity == conf::Severity::error) {
        log_error(prefix, line);
      } else {
        log_warn(prefix, line);
      }
    }
  }
}

}  // namespace

Server::Server(conf::CommandLine command_line, conf::Config config)
    : command_line_(std::move(command_line)), config_(std::move(config)) {}

Server::~Server() {
  for (auto& l : listeners_) l->stop();
  for (auto& [name, c] : clusters_) c->stop();
}

Server::Clusters Server::make_clusters(const conf::Config& config, const Clusters* reuse) {
  Clusters out;
  for (const auto& c : config.clusters) {
    if (reuse) {
      auto it = reuse->find(c.name);
      if (it != reuse->end() && it->second->config() == c) {
        out[c.name] = it->second;  // unchanged: keep its DNS answers and counters
        continue;
      }
    }
    out[c.name] = std::make_shared<ClusterState>(c, resolver_);
  }
  return out;
}

void Server::log_listening(const ListenerState& l, const char* verb) {
  const conf::Listener cfg = l.config();
  log_info("listener ", quoted(cfg.name), ": ", verb, " on ", l.bound_address().to_string(),
           " -> cluster ", quoted(cfg.cluster), ", max_connections ", cfg.max_connections);
}

bool Server::start() {
  clusters_ = make_clusters(config_, nullptr);
  // Resolve every DNS endpoint before accepting, all at once. A name that does not
  // resolve is logged and retried later; it does not hold anything else up.
  WaitGroup resolved;
  for (auto& [name, c] : clusters_) {
    resolved.add(1);
    go([c = c, &resolved] {
      c->resolve_now();
      resolved.done();
    });
  }
  resolved.wait();

  std::vector<std::pair<const conf::Listener*, net::Listener>> bound;
  for (const auto& l : config_.listeners) {
    auto s = bind_listener(l);
    if (!s) {
      log_error("listener ", quoted(l.name), ": cannot listen on ", l.address.to_string(), ": ",
                s.error().message());
      return false;
    }
    bound.emplace_back(&l, std::move(*s));
  }
  for (auto& [cfg, sock] : bound) {
    auto state = std::make_shared<ListenerState>(*cfg, std::move(sock), clusters_[cfg->cluster],
                                                 ServerHooks{registry_, connections_});
    state->start();
    log_listening(*state, "listening");
    listeners_.push_back(std::move(state));
  }
  for (auto& [name, c] : clusters_) c->start_refresh();
  return true;
}

int Server::run() {
  SignalThread signals(events_);
  log_info("parkway ", PARKWAY_VERSION, " starting: ", config_.source, ", ",
           config_.listeners.size(), " listener(s), ", config_.clusters.size(), " cluster(s), ",
           runtime_stats().procs, " procs");
  if (!start()) {
    log_error("exiting: a listener could not be bound");
    return 1;
  }
  log_info("ready: accepting connections");
  while (auto ev = events_.recv()) {
    switch (*ev) {
      case SIGHUP:
        if (draining_) {
          log_info("SIGHUP ignored: draining");
        } else {
          reload();
        }
        break;
      case SIGUSR1:
        log_info("SIGUSR1: no log file to reopen (the log goes to stderr)");
        break;
      case SIGTERM:
      case SIGINT:
        if (!draining_) {
          log_info(signal_name(*ev), ": draining");
          start_drain();
          break;
        }
        {
          const size_t n = registry_.abort_all(CloseCause::shutdown);
          log_warn(signal_name(*ev), " while draining: exiting now, resetting ", n,
                   " open connection(s)");
          log::shutdown();
          // Exit without unwinding: goroutines still running reference this Server.
          std::_Exit(0);
        }
      case kDrained:
        log_info("drained: exiting");
        return 0;
      default:
        break;
    }
  }
  return 0;
}

void Server::start_drain() {
  draining_ = true;
  for (auto& l : listeners_) l->stop();
  log_info("stopped accepting; waiting up to ", seconds(config_.runtime.drain_timeout), " for ",
           registry_.size(), " open connection(s)");
  go([this] {
    if (!connections_.wait_until(now() + config_.runtime.drain_timeout)) {
      const size_t n = registry_.abort_all(CloseCause::drain_timeout);
      log_warn("drain timeout: resetting ", n, " connection(s) still open");
      connections_.wait();
    }
    events_.send(kDrained);
  });
}

void Server::reload() {
  if (!command_line_.forwards.empty()) {
    log_info("SIGHUP: running from -L forwards; nothing to reload");
    return;
  }
  log_info("SIGHUP: reloading ", command_line_.config_path);
  // Load on a thread of its own, not on this goroutine: toml++ and the checks need more
  // stack than a goroutine's 64 KiB (a reload here overflowed it). We park meanwhile.
  conf::LoadResult result;
  {
    Notification loaded;
    std::thread loader([&] {
      result = conf::load(command_line_);
      loaded.notify();
    });
    loaded.wait();
    loader.join();
  }
  log_diagnostics(result.diagnostics, "reload: ");
  if (!result.ok()) {
    log_error("reload: ", command_line_.config_path,
              " has errors; keeping the running configuration");
    return;
  }
  const conf::Config& next = *result.config;

  // 1. Clusters: keep the unchanged ones, make (and resolve) the others.
  Clusters clusters = make_clusters(next, &clusters_);
  std::vector<std::shared_ptr<ClusterState>> fresh_clusters;
  for (auto& [name, c] : clusters) {
    auto old = clusters_.find(name);
    if (old == clusters_.end() || old->second != c) fresh_clusters.push_back(c);
  }
  WaitGroup resolved;
  for (auto& c : fresh_clusters) {
    resolved.add(1);
    go([c = c, &resolved] {
      c->resolve_now();
      resolved.done();
    });
  }
  resolved.wait();

  // 2. Listeners: match by address; bind the new ones before changing anything, so that
  //    a failed bind leaves the running configuration untouched.
  std::vector<int> match(next.listeners.size(), -1);
  std::vector<bool> kept(listeners_.size(), false);
  std::vector<net::Listener> sockets(next.listeners.size());
  for (size_t i = 0; i < next.listeners.size(); i++) {
    const conf::Listener& l = next.listeners[i];
    for (size_t j = 0; j < listeners_.size(); j++) {
      if (!kept[j] && listeners_[j]->config().address == l.address) {
        match[i] = static_cast<int>(j);
        kept[j] = true;
        break;
      }
    }
    if (match[i] >= 0) continue;
    auto s = bind_listener(l);
    if (!s) {
      log_error("reload: listener ", quoted(l.name), ": cannot listen on ", l.address.to_string(),
                ": ", s.error().message(), "; keeping the running configuration");
      for (auto& c : fresh_clusters) c->stop();
      return;  // the sockets bound so far close with `sockets`
    }
    sockets[i] = std::move(*s);
  }

  // 3. Commit.
  std::vector<std::shared_ptr<ListenerState>> listeners;
  size_t added = 0, removed = 0;
  for (size_t i = 0; i < next.listeners.size(); i++) {
    const conf::Listener& l = next.listeners[i];
    std::shared_ptr<ClusterState> cluster = clusters[l.cluster];
    if (match[i] >= 0) {
      auto& state = listeners_[static_cast<size_t>(match[i])];
      const conf::Listener old = state->config();
      if (old.reuse_port != l.reuse_port) {
        log_warn("reload: listener ", quoted(l.name),
                 ": reuse_port changes when the socket is next bound (at restart)");
      }
      state->update(l, cluster);
      if (old.backlog != l.backlog) state->set_backlog(l.backlog);
      if (!(old == l) || state->cluster() != cluster) log_listening(*state, "updated, listening");
      listeners.push_back(state);
    } else {
      auto state = std::make_shared<ListenerState>(l, std::move(sockets[i]), cluster,
                                                   ServerHooks{registry_, connections_});
      state->start();
      log_listening(*state, "added, listening");
      listeners.push_back(std::move(state));
      added++;
    }
  }
  for (size_t j = 0; j < listeners_.size(); j++) {
    if (kept[j]) continue;
    const conf::Listener old = listeners_[j]->config();
    listeners_[j]->stop();
    log_info("listener ", quoted(old.name), ": removed; stopped accepting on ",
             old.address.to_string(), "; its ", listeners_[j]->active(),
             " open connection(s) go on");
    removed++;
  }
  for (auto& [name, c] : clusters_) {
    auto it = clusters.find(name);
    if (it == clusters.end() || it->second != c) c->stop();  // open connections keep it
  }
  for (auto& c : fresh_clusters) c->start_refresh();
  if (next.runtime.procs != config_.runtime.procs) {
    log_warn("reload: procs changes at the next restart");
  }
  log::set_level(next.runtime.log_level);
  listeners_ = std::move(listeners);
  clusters_ = std::move(clusters);
  config_ = next;
  log_info("reload: done: ", listeners_.size(), " listener(s) (", added, " added, ", removed,
           " removed), ", clusters_.size(), " cluster(s)");
}

}  // namespace parkway::proxy
