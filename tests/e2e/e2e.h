// What the end-to-end tests share: config builders, backends and clients written with
// parkway's own runtime (goroutines and netpoll sockets), and log assertions.
//
// Every test runs the real binary against loopback sockets on kernel-chosen ports, inside
// one parkway::Runtime of its own. Catch2 assertions are made from the main goroutine
// only; other goroutines record failures with GO_CHECK (tests/support/go_check.h).
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "netpoll/netpoll.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/e2e/proxy_process.h"
#include "tests/e2e/time_scale.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/go_check.h"
#include "tests/support/observe.h"

namespace parkway::e2e {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// ---- Config files ---------------------------------------------------------------------------

inline std::string listener_toml(const std::string& name, const std::string& cluster,
                                 const std::string& extra = "",
                                 const std::string& address = "127.0.0.1:0") {
  return "[[listener]]\nname = \"" + name + "\"\naddress = \"" + address + "\"\ncluster = \"" +
         cluster + "\"\n" + extra + "\n";
}

inline std::string cluster_toml(const std::string& name, const std::vector<std::string>& endpoints,
                                const std::string& extra = "") {
  std::string list;
  for (const auto& e : endpoints) list += (list.empty() ? "\"" : ", \"") + e + "\"";
  return "[[cluster]]\nname = \"" + name + "\"\nendpoints = [" + list + "]\n" + extra + "\n";
}

// ---- The proxy ------------------------------------------------------------------------------

// The log of `p` as context for a failed assertion.
inline std::string log_of(const ProxyProcess& p) { return "parkway's log:\n" + p.stderr_text(); }

// REQUIREs a log line matching `re` (at or after line `from`) within `timeout`.
inline LogMatch await_log(ProxyProcess& p, const std::string& re, milliseconds timeout = 10s,
                          size_t from = 0) {
  auto m = p.wait_for_log(re, timeout, from);
  if (!m)
    FAIL("no log line matching /" << re << "/ within " << timeout.count() << "ms\n" << log_of(p));
  return *m;
}

// Starts parkway with `toml` as its config file (written to dir/parkway.toml) at debug
// level, and waits until it is ready.
inline std::unique_ptr<ProxyProcess> start_proxy(const TempDir& dir, const std::string& toml,
                                                 std::vector<std::string> extra_args = {},
                                                 SpawnOptions options = {}) {
  const std::string path = dir.write("parkway.toml", toml);
  std::vector<std::string> args = {"-c", path, "--log-level", "debug"};
  for (auto& a : extra_args) args.push_back(std::move(a));
  auto p = std::make_unique<ProxyProcess>(std::move(args), std::move(options));
  await_log(*p, "ready: accepting connections");
  return p;
}

inline net::SocketAddress loopback(uint16_t port) { return net::SocketAddress::loopback_v4(port); }

// ---- The admin endpoint ---------------------------------------------------------------------

inline std::string admin_toml(const std::string& extra = "") {
  return "[admin]\naddress = \"127.0.0.1:0\"\n" + extra + "\n";
}

// Where the admin endpoint of `p` listens (its "admin: listening on" line).
inline net::SocketAddress admin_address(ProxyProcess& p) {
  auto m = await_log(p, R"(admin: listening on (\S+))");
  return *net::SocketAddress::parse(m.groups[1]);
}

// The series `series` ("name{labels}" as printed) in a fresh GET /metrics; nullopt when
// there is no answer or no such series.
inline std::optional<double> read_metric(const net::SocketAddress& admin,
                                         const std::string& series) {
  const auto m = observe::http_get(admin, "/metrics");
  if (m.status != 200) return std::nullopt;
  return observe::metric(m.body, series);
}

// Waits (polling /metrics, up to `within` times time_scale()) until `series` reads `want`;
// returns the last value read, so that CHECK(await_metric(...) == want) shows it.
inline std::optional<double> await_metric(const net::SocketAddress& admin,
                                          const std::string& series, double want,
                                          Duration within = 10s) {
  std::optional<double> last;
  observe::eventually(
      [&] {
        last = read_metric(admin, series);
        return last == want;
      },
      scaled(within));
  return last;
}

// The series that counts the connections of `cluster` that ended with `cause`.
inline std::string closed_series(const std::string& cluster, const std::string& cause) {
  return "parkway_cluster_connections_closed_total{cluster=\"" + cluster + "\",cause=\"" + cause +
         "\"}";
}

// The test process holds both ends of many connections: lift its descriptor limit (the
// proxy inherits it).
inline void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// ---- Backends -------------------------------------------------------------------------------

// A server on 127.0.0.1 (on `port`, or one the kernel picks) that runs `handler` in a
// goroutine per accepted connection. stop() (or the destructor) closes the listener, lets
// handlers finish on their own for up to 5s, then closes every connection still open,
// which wakes handlers parked on them, and waits for the handlers to return. A Backend on
// the port of one stopped is the same server restarted.
class Backend {
 public:
  using Handler = std::function<void(net::Conn&)>;

  explicit Backend(Handler handler, net::ListenOptions options = {}, uint16_t port = 0)
      : handler_(std::move(handler)),
        ln_(listen_on(port, options)),
        address_(test::address_of(ln_)) {
    running_.add(1);
    go([this] {
      for (;;) {
        auto c = ln_.accept();
        if (!c) break;  // closed by stop()
        accepted_++;
        running_.add(1);
        handlers_.add(1);
        go([this, conn = std::move(*c)]() mutable {
          std::list<net::Conn*>::iterator it;
          {
            std::lock_guard<Mutex> g(mu_);
            it = open_.insert(open_.end(), &conn);
          }
          handler_(conn);
          {
            std::lock_guard<Mutex> g(mu_);
            open_.erase(it);
          }
          conn.close();
          handlers_.done();
          running_.done();
        });
      }
      running_.done();
    });
  }
  ~Backend() { stop(); }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    ln_.close();
    // Handlers may still be reading what the proxy passed on just before the test ended:
    // give them a moment to finish on their own.
    handlers_.wait_until(now() + 5s);
    {
      std::lock_guard<Mutex> g(mu_);
      for (net::Conn* c : open_) c->close();
    }
    running_.wait();
  }

  const net::SocketAddress& address() const { return address_; }
  std::string endpoint() const { return address_.to_string(); }
  int accepted() const { return accepted_.load(); }

 private:
  static net::Listener listen_on(uint16_t port, const net::ListenOptions& options) {
    auto ln = net::Listener::listen(net::SocketAddress::loopback_v4(port), options);
    if (!ln)
      throw std::runtime_error("listen on port " + std::to_string(port) + ": " +
                               ln.error().message());
    return std::move(*ln);
  }

  Handler handler_;
  net::Listener ln_;
  net::SocketAddress address_;
  std::atomic<int> accepted_{0};
  WaitGroup running_;   // the accept loop and the handlers
  WaitGroup handlers_;  // the handlers
  Mutex mu_;
  std::list<net::Conn*> open_;
  bool stopped_ = false;
};

// Echoes until end of stream, then passes the end of stream on (a half-close).
inline void echo(net::Conn& c) {
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    auto r = c.read(buf);
    if (r.error || r.bytes == 0) break;
    if (c.write_all(std::span(buf.data(), r.bytes)).error) return;
  }
  c.shutdown_write();
}

// A port on 127.0.0.1 that refuses connections: bound (so nobody else gets it) and not
// listening.
class RefusedPort {
 public:
  RefusedPort();
  ~RefusedPort();
  RefusedPort(const RefusedPort&) = delete;
  RefusedPort& operator=(const RefusedPort&) = delete;
  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A listener whose accept queue is full (backlog 1, never accepted from, filled with
// connections): a SYN to it is dropped, so connecting to it times out. Call from a
// goroutine.
class FullBacklog {
 public:
  FullBacklog();
  std::string endpoint() const { return ln_.local_address()->to_string(); }
  bool full() const { return full_; }

 private:
  net::Listener ln_;
  std::vector<net::Conn> queued_;
  bool full_ = false;
};

// ---- Clients --------------------------------------------------------------------------------

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Reads exactly n bytes, or fails (error set: the read error, or Errc::closed at an early
// end of stream).
struct ReadResult {
  std::string data;
  std::error_code error;
  bool eof = false;
};
inline ReadResult read_exactly(net::Conn& c, size_t n, Time deadline = kNoDeadline) {
  ReadResult r;
  c.set_read_deadline(deadline);
  std::vector<std::byte> buf(n);
  size_t got = 0;
  while (got < n) {
    auto x = c.read(std::span(buf.data() + got, n - got));
    if (x.error) {
      r.error = x.error;
      break;
    }
    if (x.bytes == 0) {
      r.eof = true;
      break;
    }
    got += x.bytes;
  }
  r.data.assign(reinterpret_cast<const char*>(buf.data()), got);
  c.set_read_deadline(kNoDeadline);
  return r;
}

// Reads until end of stream or an error (a reset, a timeout), discarding the bytes.
struct EndResult {
  uint64_t bytes = 0;
  std::error_code error;  // empty: a clean end of stream
};
inline EndResult read_to_end(net::Conn& c, Time deadline = kNoDeadline) {
  EndResult r;
  c.set_read_deadline(deadline);
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    auto x = c.read(buf);
    if (x.error) {
      r.error = x.error;
      return r;
    }
    if (x.bytes == 0) return r;
    r.bytes += x.bytes;
  }
}

// Writes msg and reads it back: true if the same bytes came back before `deadline`.
inline bool echoes(net::Conn& c, std::string_view msg, Time deadline) {
  c.set_write_deadline(deadline);
  if (c.write_all(bytes_of(msg)).error) return false;
  c.set_write_deadline(kNoDeadline);
  auto r = read_exactly(c, msg.size(), deadline);
  return !r.error && r.data == msg;
}

// Dials `addr` and checks one echo round trip: a connection through the proxy that works.
inline std::optional<net::Conn> dial_and_echo(const net::SocketAddress& addr, std::string_view msg,
                                              Duration within = 5s) {
  const Time deadline = now() + within;
  auto c = net::Conn::dial(addr, deadline);
  if (!c) return std::nullopt;
  if (!echoes(*c, msg, deadline)) return std::nullopt;
  return std::move(*c);
}

inline std::string describe(std::error_code ec) { return ec ? ec.message() : "end of stream"; }

}  // namespace parkway::e2e
