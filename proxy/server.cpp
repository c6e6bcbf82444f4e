#include "proxy/server.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "conf/diff.h"
#include "conf/emit.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log.h"
#include "proxy/ops/clusters.h"
#include "proxy/ops/fault.h"
#include "proxy/ops/signals.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {
namespace {

using namespace std::chrono_literals;

// Events that are not signals.
constexpr int kDrained = -1;
constexpr int kReloadLoaded = -2;
constexpr Duration kStatusEvery = 5s;
// How long the check of a reloaded file may take before its process is killed.
constexpr Duration kReloadCheckTimeout = 10s;
// After the drain timeout, how long the process may still take to exit (its goroutines
// reset what is open, which takes milliseconds) before the signal thread ends it.
constexpr Duration kDrainGrace = 5s;
// A forced exit gives the connections it resets this long to record their end.
constexpr Duration kForcedExitFlush = 1s;

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

std::string seconds(Duration d) {
  std::ostringstream s;
  s << std::chrono::duration<double>(d).count() << "s";
  return s.str();
}

// Fault injection (proxy/ops/fault.h). "spin": the next SIGHUP, instead of a reload,
// starts one goroutine per P that computes forever without parking, as a runaway
// goroutine would. The scheduler is then wedged and only threads
// still act: the signal thread must end the process anyway (a second stop signal, the
// drain deadline), and the systemd watchdog is no longer pinged, so systemd restarts it.
void wedge_every_p() {
  static std::atomic<int> started{0};
  const int procs = runtime_stats().procs;
  for (int i = 0; i < procs; i++) {
    go([procs] {
      if (started.fetch_add(1) + 1 == procs) {
        log_warn("PARKWAY_FAULT=spin: every P now runs a goroutine that never parks");
      }
      std::atomic<uint64_t> n{0};
      for (;;) n.fetch_add(1, std::memory_order_relaxed);
    });
  }
}

// What to do about a bind that failed, when there is something to say.
std::string bind_hint(std::error_code ec, uint16_t port) {
  if (ec == std::errc::permission_denied && port < 1024) {
    return " (ports below 1024 need CAP_NET_BIND_SERVICE: run as root, grant it with "
           "`setcap cap_net_bind_service=+ep` on the binary, or with AmbientCapabilities= in "
           "a systemd unit, as parkway.service does)";
  }
  return {};
}

void log_listening(const ListenerState& l, const char* verb) {
  const conf::Listener cfg = l.config();
  log_info("listener ", quoted(cfg.name), ": ", verb, " on ", l.bound_address().to_string(),
           " -> cluster ", quoted(cfg.cluster), ", max_connections ", cfg.max_connections);
}

}  // namespace

Server::Server(conf::CommandLine command_line, conf::Config config, Channel<int>& events,
               SignalThread& signals)
    : command_line_(std::move(command_line)),
      initial_(std::move(config)),
      events_(events),
      signals_(signals) {}

Server::~Server() {
  signals_.set_force({});  // (waits for a force_exit under way, which does not return)
  // A reload under way uses this Server when its check ends: it is told to give up, its
  // check is killed, and it is waited for (it is quick once the check is gone).
  exiting_.store(true);
  kill_config_child();
  reload_running_.wait();
  stop_background_.notify();
  background_.wait();
  if (admin_) admin_->stop();
  for (auto& l : listeners_) l->stop();
  for (auto& [name, c] : clusters_) c->stop();
  for (auto& s : inherited_) ::close(s.fd);
}

// The clusters of `next`: the running ones whose settings did not change are kept (their
// DNS answers and counters with them); the others are made and resolved now, all at once.
// A name that does not resolve is logged and retried later; it holds nothing else up.
// Called from the reload's goroutine: it reads clusters_ under the lock (apply() alone
// changes them, and reloads come one at a time).
Server::Clusters Server::make_clusters(const conf::Config& next) {
  Clusters out;
  WaitGroup resolved;
  for (const auto& c : next.clusters) {
    std::shared_ptr<ClusterState> running;
    {
      MutexLock g(state_mu_);
      auto it = clusters_.find(c.name);
      if (it != clusters_.end()) running = it->second;
    }
    if (running && running->config() == c) {
      out[c.name] = running;
      continue;
    }
    // A changed cluster takes over the health of the addresses the running one has.
    auto fresh = std::make_shared<ClusterState>(c, resolver_, running.get());
    out[c.name] = fresh;
    resolved.add(1);
    go([fresh, &resolved] {
      fresh->resolve_now();
      resolved.done();
    });
  }
  resolved.wait();
  return out;
}

// The socket for a new listener: the one systemd passed under its name (socket
// activation), or a new one bound to its address.
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
      log_warn("listener ", quoted(l.name), ": the passed socket is bound to ", bound->to_string(),
               ", not to the configured ", l.address.to_string(), "; the passed socket wins");
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
             sock.error().message() + bind_hint(sock.error(), config.admin.address->port);
    return nullptr;
  }
  AdminServer::Routes routes{
      [this] { return render_metrics(snapshot()); },
      [this] { return ready_.load(); },
      [this] {
        MutexLock g(state_mu_);
        return conf::to_toml(config_);
      },
      [this](bool text) {
        const ServerSnapshot s = snapshot();
        return text ? render_clusters_text(s) : render_clusters_json(s);
      },
  };
  return std::make_unique<AdminServer>(std::move(*sock), config.admin.max_connections,
                                       std::move(routes));
}

ServerSnapshot Server::snapshot() {
  ServerSnapshot s;
  {
    MutexLock g(state_mu_);
    s.listeners = listeners_;
    for (const auto& [name, c] : clusters_) s.clusters.push_back(c);
  }
  s.ready = ready_.load();
  s.reloads_succeeded = reloads_succeeded_.load();
  s.reloads_failed = reloads_failed_.load();
  s.uptime = now() - started_;
  s.open_connections = registry_.size();
  s.descriptors = budget_.shares();
  return s;
}

std::string Server::status_line() {
  size_t listeners = 0;
  {
    MutexLock g(state_mu_);
    listeners = listeners_.size();
  }
  return std::to_string(registry_.size()) + " open connection(s), " + std::to_string(listeners) +
         " listener(s)" + (draining_ ? ", draining" : "");
}

// Stops the clusters of `clusters` that are not running (made for a reload that did not
// happen).
void Server::stop_unused(const Clusters& clusters) {
  for (auto& [name, c] : clusters) {
    auto old = clusters_.find(name);
    if (old == clusters_.end() || old->second != c) c->stop();
  }
}

// Applies `next` to the running server (to an empty one, the first time), with its
// clusters made by make_clusters(next): everything that can fail first, then the commit,
// which cannot. A failure is logged and leaves the running configuration entirely in
// place.
bool Server::apply(const conf::Config& next, Clusters clusters) {
  const bool first = !applied_;
  const std::string prefix = first ? "" : "reload: ";
  const std::string keeping = first ? "" : "; keeping the running configuration";
  auto abandon = [&] {
    stop_unused(clusters);
    return false;  // the sockets bound so far close as they go out of scope
  };

  // 2. Everything else that can fail, before anything changes: new listener sockets, a
  //    moved admin endpoint, a new access log destination.
  std::vector<int> match(next.listeners.size(), -1);  // the running listener it keeps
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
    auto s = listener_socket(l);
    if (!s) {
      log_error(prefix, "listener ", quoted(l.name), ": cannot listen on ", l.address.to_string(),
                ": ", s.error().message(), bind_hint(s.error(), l.address.port), keeping);
      return abandon();
    }
    sockets[i] = std::move(*s);
  }
  const bool admin_changed = first || next.admin != config_.admin;
  std::unique_ptr<AdminServer> new_admin;
  if (admin_changed) {
    std::string error;
    new_admin = make_admin(next, &error);
    if (!error.empty()) {
      log_error(prefix, error, keeping);
      return abandon();
    }
  }
  if (first || next.access_log != config_.access_log) {
    if (std::string error = access_log::configure(next.access_log.destination); !error.empty()) {
      log_error(prefix, "access log: ", error, keeping);
      return abandon();
    }
  }

  // What the reload changes, in words (conf/diff.h), while config_ and clusters_ are still
  // the running ones: an endpoint removed says how many of its connections drain.
  std::vector<std::string> changes;
  if (!first) {
    for (const conf::Change& c : conf::diff(config_, next)) {
      std::string line = c.text;
      if (!c.removed_endpoint.empty()) {
        if (auto it = clusters_.find(c.cluster); it != clusters_.end()) {
          for (const auto& ep : it->second->endpoints()) {
            if (ep->name() == c.removed_endpoint) {
              line += " (" + std::to_string(ep->active.load()) + " connection(s) drain)";
            }
          }
        }
      }
      changes.push_back(std::move(line));
    }
  }

  // 3. Commit.
  std::vector<std::shared_ptr<ListenerState>> listeners;
  std::vector<std::shared_ptr<ListenerState>> removed;
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
      const bool changed = !(old == l) || state->cluster() != cluster;
      state->update(l, cluster);
      if (old.backlog != l.backlog) state->set_backlog(l.backlog);
      if (changed) log_listening(*state, "updated, listening");
      listeners.push_back(state);
    } else {
      auto state =
          std::make_shared<ListenerState>(l, std::move(sockets[i]), cluster,
                                          ServerHooks{registry_, connections_, &budget_.slots()});
      state->start();
      log_listening(*state, first ? "listening" : "added, listening");
      listeners.push_back(std::move(state));
      added++;
    }
  }
  for (size_t j = 0; j < listeners_.size(); j++) {
    if (!kept[j]) removed.push_back(listeners_[j]);
  }
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
    if (!first && next.runtime.procs != config_.runtime.procs) {
      log_warn("reload: procs changes at the next restart");
    }
    config_ = next;
  }
  applied_ = true;
  // The descriptors, shared out again now that the sockets of this configuration are open.
  const DescriptorBudget::Shares before = budget_.shares();
  const DescriptorBudget::Shares shares =
      budget_.apply(next.admin.address ? next.admin.max_connections : 0);
  if (first || shares.connections != before.connections) {
    int64_t listeners_allow = 0;
    for (const auto& l : next.listeners) listeners_allow += l.max_connections;
    log_info("descriptors: ", describe(shares));
    if (shares.connections < listeners_allow) {
      log_warn("open files: limit ", shares.limit, " holds ", shares.connections,
               " connections, max_connections allows ", listeners_allow,
               " (2 descriptors each, plus ", shares.fixed, " fixed and ", 2 * shares.pipes,
               " for pipes): raise it (ulimit -Hn, LimitNOFILE=) or lower max_connections");
    }
  }
  for (auto& l : removed) {
    const conf::Listener old = l->config();
    l->stop();
    log_info("listener ", quoted(old.name), ": removed; stopped accepting on ",
             old.address.to_string(), "; its ", l->active(), " open connection(s) go on");
  }
  if (admin_changed) {
    if (old_admin) old_admin->stop();
    if (admin_) {
      admin_->start();
      log_info("admin: listening on ", admin_->address().to_string(),
               first ? " (GET /metrics, /ready, /live, /config, /clusters)" : "");
    } else if (!first) {
      log_info("admin: stopped");
    }
  }
  for (auto& [name, c] : clusters_) c->start();  // (a started one goes on as it is)
  log::set_level(next.runtime.log_level);
  if (first) {
    for (auto& s : inherited_) {
      log_warn("socket activation passed fd ", s.fd, " named ", quoted(s.name),
               ", which no listener has; closing it");
      ::close(s.fd);
    }
    inherited_.clear();
  } else {
    for (const std::string& c : changes) log_info("reload: ", c);
    if (changes.empty()) log_info("reload: no changes");
    log_info("reload: done: ", listeners_.size(), " listener(s) (", added, " added, ",
             removed.size(), " removed), ", clusters_.size(), " cluster(s)");
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
  signals_.set_force([this](int sig) { force_exit(sig); });
  // drain_timeout is at most a day (conf/keys.h): no sum here comes near overflowing.
  signals_.set_stop_budget(initial_.runtime.drain_timeout + kDrainGrace);
  log_info("parkway ", PARKWAY_VERSION, " starting: ", initial_.source, ", ",
           initial_.listeners.size(), " listener(s), ", initial_.clusters.size(), " cluster(s), ",
           runtime_stats().procs, " procs");
  inherited_ = systemd::take_listen_fds();
  if (!apply(initial_, make_clusters(initial_))) {
    log_error("exiting: could not start (see above)");
    return 1;
  }
  ready_.store(true);
  systemd::notify("READY=1\nSTATUS=" + status_line());
  start_background();
  log_info("ready: accepting connections");
  int code = 0;
  while (auto ev = events_.recv()) {
    if (*ev == kDrained) {
      log_info("drained: exiting");
      break;
    }
    switch (*ev) {
      case SIGHUP:
        if (fault("spin")) {
          wedge_every_p();
        } else if (draining_) {
          log_info("SIGHUP ignored: draining");
        } else if (reloading_) {
          reload_again_ = true;
          log_info("SIGHUP: a reload is under way; reloading again once it is done");
        } else {
          start_reload();
        }
        break;
      case kReloadLoaded: finish_reload(); break;
      case SIGUSR1:
        if (std::string error = access_log::reopen(); !error.empty()) {
          log_error("SIGUSR1: access log: ", error, "; still writing to the old file");
        } else {
          log_info("SIGUSR1: access log reopened");
        }
        break;
      case SIGTERM:
      case SIGINT:
        // (The second one is the signal thread's: force_exit.)
        if (!draining_) start_drain(*ev);
        break;
      default: break;
    }
  }
  kill_config_child();
  return code;
}

// A second stop signal, or a drain that did not end in time: exits from the signal thread
// itself, whatever the goroutines are doing (a goroutine that never parks would keep a
// message from ever being read). The connections still open are reset and get a moment to
// record their end; then the logs are flushed, and the process exits non-zero: it stopped
// before its drain was done.
void Server::force_exit(int sig) {
  kill_config_child();
  const size_t n = registry_.abort_all(sig != 0 ? CloseCause::shutdown : CloseCause::drain_timeout);
  if (sig != 0) {
    log_warn(signal_name(sig), " while draining: exiting now, resetting ", n,
             " open connection(s)");
  } else {
    log_warn("still running ", seconds(kDrainGrace),
             " after the drain timeout: exiting now, resetting ", n, " open connection(s)");
  }
  connections_.wait_until(deadline_after(kForcedExitFlush));
  access_log::shutdown();
  log::shutdown();
  // Exit without unwinding: goroutines still running reference this Server.
  std::_Exit(sig != 0 ? 128 + sig : 1);
}

void Server::start_drain(int sig) {
  draining_ = true;
  ready_.store(false);
  log_info(signal_name(sig), ": draining",
           sig == SIGINT ? " (press Ctrl-C again to stop at once)"
                         : " (a second SIGTERM stops at once)");
  systemd::notify("STOPPING=1\nSTATUS=draining: " + status_line());
  {
    MutexLock g(state_mu_);
    for (auto& l : listeners_) l->stop();
  }
  const Duration drain_timeout = config_.runtime.drain_timeout;
  const Time drain_deadline = deadline_after(drain_timeout);
  log_info("stopped accepting; waiting up to ", seconds(drain_timeout), " for ", registry_.size(),
           " open connection(s)");
  go([this, drain_deadline] {
    if (!connections_.wait_until(drain_deadline)) {
      const size_t n = registry_.abort_all(CloseCause::drain_timeout);
      log_warn("drain timeout: resetting ", n, " connection(s) still open");
      connections_.wait();
    }
    events_.send(kDrained);
  });
}

// A reload, in two halves: the file is checked in a child process and the new clusters
// are made (DNS included) on a goroutine of its own, while this one goes on reading
// signals; then finish_reload() applies the result here.
void Server::start_reload() {
  if (!command_line_.forwards.empty()) {
    log_info("SIGHUP: running from -L forwards; nothing to reload");
    return;
  }
  reloading_ = true;
  log_info("SIGHUP: reloading ", command_line_.config_path);
  systemd::notify(systemd::reloading_message());
  reload_running_.add(1);
  go([this] {
    ChildLoad loaded = load_config_in_child(command_line_, kReloadCheckTimeout);
    // "slow-reload": this goroutine is slow to take up the check's result, so that an exit
    // while it is under way finds it still running.
    if (fault("slow-reload")) sleep_for(300ms);
    if (exiting_.load()) {
      log_info("reload: abandoned: exiting");
      reload_running_.done();
      return;
    }
    Clusters clusters;
    if (loaded.config) clusters = make_clusters(*loaded.config);
    {
      MutexLock g(reload_mu_);
      reload_loaded_ = std::move(loaded);
      reload_clusters_ = std::move(clusters);
    }
    events_.send(kReloadLoaded);
    reload_running_.done();
  });
}

void Server::finish_reload() {
  std::optional<ChildLoad> loaded;
  Clusters clusters;
  {
    MutexLock g(reload_mu_);
    loaded = std::move(reload_loaded_);
    reload_loaded_.reset();
    clusters = std::move(reload_clusters_);
    reload_clusters_.clear();
  }
  reloading_ = false;
  if (!loaded) return;
  if (draining_) {
    stop_unused(clusters);
    log_info("reload: not applied: draining");
    return;
  }
  bool error = false;
  for (const std::string& line : loaded->diagnostics) {
    // "file:line:col: error: ..." or "...: warning: ...", then the echoed line and caret,
    // which take the level of the line they belong to.
    if (line.find(": error: ") != std::string::npos) error = true;
    if (line.find(": warning: ") != std::string::npos) error = false;
    if (error) {
      log_error("reload: ", line);
    } else {
      log_warn("reload: ", line);
    }
  }
  if (!loaded->failure.empty()) {
    log_error("reload: ", command_line_.config_path, ": ", loaded->failure,
              "; keeping the running configuration");
    reloads_failed_.fetch_add(1);
  } else if (!loaded->config) {
    log_error("reload: ", command_line_.config_path,
              " has errors; keeping the running configuration");
    reloads_failed_.fetch_add(1);
  } else if (apply(*loaded->config, std::move(clusters))) {
    reloads_succeeded_.fetch_add(1);
    signals_.set_stop_budget(config_.runtime.drain_timeout + kDrainGrace);
  } else {
    reloads_failed_.fetch_add(1);
  }
  systemd::notify("READY=1\nSTATUS=" + status_line());
  if (reload_again_) {
    reload_again_ = false;
    start_reload();
  }
}

}  // namespace parkway::proxy
