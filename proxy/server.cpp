#include "proxy/server.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "conf/diagnostic.h"
#include "conf/emit.h"
#include "proxy/access_log.h"
#include "proxy/log.h"
#include "proxy/signals.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {
namespace {

using namespace std::chrono_literals;

constexpr int kDrained = -1;  // an event that is not a signal
constexpr Duration kStatusEvery = 5s;

net::SocketAddress socket_address(const conf::ListenAddress& a) {
  return a.family == conf::AddressFamily::ipv4 ? net::SocketAddress::ipv4(a.bytes.data(), a.port)
                                               : net::SocketAddress::ipv6(a.bytes.data(), a.port);
}

net::Result<net::Listener> bind_address(const conf::ListenAddress& address, int backlog,
                                        bool reuse_port) {
  net::ListenOptions o;
  o.backlog = backlog;
  o.reuse_port = reuse_port;
  return net::Listener::listen(socket_address(address), o);
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
  stop_background_.notify();
  background_.wait();
  if (admin_) admin_->stop();
  for (auto& l : listeners_) l->stop();
  for (auto& [name, c] : clusters_) c->stop();
  for (auto& s : inherited_) ::close(s.fd);
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

// The socket for a listener: the one systemd passed under its name (socket activation),
// or a new one bound to its address.
net::Result<net::Listener> Server::listener_socket(const conf::Listener& l) {
  for (auto it = inherited_.begin(); it != inherited_.end(); ++it) {
    if (it->name != l.name) continue;
    const int fd = it->fd;
    inherited_.erase(it);
    auto adopted = net::Listener::adopt(fd);
    if (!adopted) {
      log_error("listener ", quoted(l.name), ": socket activation passed fd ", fd,
                " but it is not a listening TCP socket: ", adopted.error().message());
      return adopted.error();
    }
    const auto bound = adopted->local_address();
    log_info("listener ", quoted(l.name), ": using the socket passed by systemd (fd ", fd, ", ",
             bound ? bound->to_string() : "?", ")");
    if (bound && !(*bound == socket_address(l.address))) {
      log_warn("listener ", quoted(l.name), ": the passed socket is bound to ",
               bound->to_string(), ", not to the configured ", l.address.to_string(),
               "; the passed socket wins");
    }
    return adopted;
  }
  return bind_address(l.address, l.backlog, l.reuse_port);
}

std::unique_ptr<AdminServer> Server::make_admin(const conf::Config& config, std::string* error) {
  if (!config.admin.address) return nullptr;
  auto sock = bind_address(*config.admin.address, 128, false);
  if (!sock) {
    *error = "admin: cannot listen on " + config.admin.address->to_string() + ": " +
             sock.error().message();
    return nullptr;
  }
  AdminServer::Routes routes{
      [this] { return render_metrics(); },
      [this] { return ready_.load(); },
      [this] { return render_config(); },
  };
  return std::make_unique<AdminServer>(std::move(*sock), config.admin.max_connections,
                                       std::move(routes));
}

std::string Server::render_config() {
  MutexLock g(state_mu_);
  return conf::to_toml(config_);
}

std::string Server::status_line() {
  int64_t open = 0;
  size_t listeners = 0;
  {
    MutexLock g(state_mu_);
    listeners = listeners_.size();
  }
  open = static_cast<int64_t>(registry_.size());
  return std::to_string(open) + " open connection(s), " + std::to_string(listeners) +
         " listener(s)" + (draining_ ? ", draining" : "");
}

bool Server::start() {
  inherited_ = systemd::take_listen_fds();
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

  if (std::string error = access_log::configure(config_.access_log.destination); !error.empty()) {
    log_error("access log: ", error);
    return false;
  }
  std::string admin_error;
  auto admin = make_admin(config_, &admin_error);
  if (!admin_error.empty()) {
    log_error(admin_error);
    return false;
  }

  std::vector<std::pair<const conf::Listener*, net::Listener>> bound;
  for (const auto& l : config_.listeners) {
    auto s = listener_socket(l);
    if (!s) {
      log_error("listener ", quoted(l.name), ": cannot listen on ", l.address.to_string(), ": ",
                s.error().message());
      return false;
    }
    bound.emplace_back(&l, std::move(*s));
  }
  for (auto& s : inherited_) {
    log_warn("socket activation passed fd ", s.fd, " named ", quoted(s.name),
             ", which no listener has; closing it");
    ::close(s.fd);
  }
  inherited_.clear();

  MutexLock g(state_mu_);
  for (auto& [cfg, sock] : bound) {
    auto state = std::make_shared<ListenerState>(*cfg, std::move(sock), clusters_[cfg->cluster],
                                                 ServerHooks{registry_, connections_});
    state->start();
    log_listening(*state, "listening");
    listeners_.push_back(std::move(state));
  }
  for (auto& [name, c] : clusters_) c->start_refresh();
  if (admin) {
    admin_ = std::move(admin);
    admin_->start();
    log_info("admin: listening on ", admin_->address().to_string(),
             " (GET /metrics, /ready, /live, /config)");
  }
  return true;
}

// The goroutines that keep systemd informed: the watchdog pings (their absence is what
// tells systemd the scheduler is wedged) and a STATUS= line with the open connections.
void Server::start_background() {
  if (!systemd::notify_enabled()) return;
  const Duration watchdog = systemd::watchdog_interval();
  if (watchdog > Duration::zero()) {
    log_info("systemd watchdog: pinging every ", seconds(watchdog / 2));
    background_.add(1);
    go([this, every = watchdog / 2] {
      do {
        systemd::notify("WATCHDOG=1");
      } while (!stop_background_.wait_for(every));
      background_.done();
    });
  }
  background_.add(1);
  go([this] {
    std::string last;
    while (!stop_background_.wait_for(kStatusEvery)) {
      std::string status = status_line();
      if (status != last) systemd::notify("STATUS=" + status);
      last = std::move(status);
    }
    background_.done();
  });
}

int Server::run() {
  SignalThread signals(events_);
  log_info("parkway ", PARKWAY_VERSION, " starting: ", config_.source, ", ",
           config_.listeners.size(), " listener(s), ", config_.clusters.size(), " cluster(s), ",
           runtime_stats().procs, " procs");
  if (!start()) {
    log_error("exiting: could not start (see above)");
    return 1;
  }
  ready_.store(true);
  systemd::notify("READY=1\nSTATUS=" + status_line());
  start_background();
  log_info("ready: accepting connections");
  while (auto ev = events_.recv()) {
    switch (*ev) {
      case SIGHUP:
        if (draining_) {
          log_info("SIGHUP ignored: draining");
        } else {
          systemd::notify(systemd::reloading_message());
          reload();
          systemd::notify("READY=1\nSTATUS=" + status_line());
        }
        break;
      case SIGUSR1:
        if (std::string error = access_log::reopen(); !error.empty()) {
          log_error("SIGUSR1: access log: ", error, "; still writing to the old file");
        } else {
          log_info("SIGUSR1: access log reopened");
        }
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
          access_log::shutdown();
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
  ready_.store(false);
  systemd::notify("STOPPING=1\nSTATUS=draining: " + status_line());
  {
    MutexLock g(state_mu_);
    for (auto& l : listeners_) l->stop();
  }
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
    reloads_failed_.fetch_add(1);
    return;
  }
  if (apply_reload(*result.config)) {
    reloads_succeeded_.fetch_add(1);
  } else {
    reloads_failed_.fetch_add(1);
  }
}

bool Server::apply_reload(const conf::Config& next) {
  // 1. Clusters: keep the unchanged ones, make (and resolve) the others.
  Clusters clusters = make_clusters(next, &clusters_);
  std::vector<std::shared_ptr<ClusterState>> fresh_clusters;
  for (auto& [name, c] : clusters) {
    auto old = clusters_.find(name);
    if (old == clusters_.end() || old->second != c) fresh_clusters.push_back(c);
  }
  auto abandon = [&] {
    for (auto& c : fresh_clusters) c->stop();
  };
  WaitGroup resolved;
  for (auto& c : fresh_clusters) {
    resolved.add(1);
    go([c = c, &resolved] {
      c->resolve_now();
      resolved.done();
    });
  }
  resolved.wait();

  // 2. Everything that can fail, before anything changes: new listener sockets, a moved
  //    admin endpoint, a new access log file. A failure leaves the running
  //    configuration untouched.
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
    auto s = bind_address(l.address, l.backlog, l.reuse_port);
    if (!s) {
      log_error("reload: listener ", quoted(l.name), ": cannot listen on ", l.address.to_string(),
                ": ", s.error().message(), "; keeping the running configuration");
      abandon();
      return false;  // the sockets bound so far close with `sockets`
    }
    sockets[i] = std::move(*s);
  }
  std::unique_ptr<AdminServer> new_admin;
  if (next.admin != config_.admin) {
    std::string error;
    new_admin = make_admin(next, &error);
    if (!error.empty()) {
      log_error("reload: ", error, "; keeping the running configuration");
      abandon();
      return false;
    }
  }
  if (next.access_log != config_.access_log) {
    if (std::string error = access_log::configure(next.access_log.destination); !error.empty()) {
      log_error("reload: access log: ", error, "; keeping the running configuration");
      abandon();
      return false;
    }
  }

  // 3. Commit.
  std::vector<std::shared_ptr<ListenerState>> listeners;
  std::vector<std::shared_ptr<ListenerState>> removed_listeners;
  size_t added = 0;
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
    if (!kept[j]) removed_listeners.push_back(listeners_[j]);
  }
  const bool admin_changed = next.admin != config_.admin;
  std::unique_ptr<AdminServer> old_admin;
  {
    MutexLock g(state_mu_);
    for (auto& [name, c] : clusters_) {
      auto it = clusters.find(name);
      if (it == clusters.end() || it->second != c) c->stop();  // open connections keep it
    }
    listeners_ = std::move(listeners);
    clusters_ = std::move(clusters);
    if (admin_changed) {
      old_admin = std::move(admin_);
      admin_ = std::move(new_admin);
    }
    if (next.runtime.procs != config_.runtime.procs) {
      log_warn("reload: procs changes at the next restart");
    }
    config_ = next;
  }
  for (auto& l : removed_listeners) {
    const conf::Listener old = l->config();
    l->stop();
    log_info("listener ", quoted(old.name), ": removed; stopped accepting on ",
             old.address.to_string(), "; its ", l->active(), " open connection(s) go on");
  }
  if (admin_changed) {
    if (old_admin) old_admin->stop();
    if (admin_) {
      admin_->start();
      log_info("admin: listening on ", admin_->address().to_string());
    } else {
      log_info("admin: stopped");
    }
  }
  for (auto& c : fresh_clusters) c->start_refresh();
  log::set_level(next.runtime.log_level);
  log_info("reload: done: ", listeners_.size(), " listener(s) (", added, " added, ",
           removed_listeners.size(), " removed), ", clusters_.size(), " cluster(s)");
  return true;
}

}  // namespace parkway::proxy
