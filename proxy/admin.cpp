#include "proxy/admin.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "proxy/http.h"
#include "proxy/log.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

using namespace std::chrono_literals;

namespace {
constexpr Duration kRequestTimeout = 5s;
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

AdminServer::AdminServer(net::Listener socket, int max_connections, Routes routes)
    : socket_(std::move(socket)), slots_(max_connections), routes_(std::move(routes)) {
  if (auto a = socket_.local_address()) address_ = *a;
  reserve_descriptor();
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  started_ = true;
  go([this] { accept_loop(); });
}

void AdminServer::stop() {
  if (stopping_.exchange(true)) return;
  socket_.close();
  slots_.release();  // an accept loop waiting for a slot sees stopping_
  if (started_) {
    stopped_.wait();
    open_.wait();
  }
  release_descriptor();
}

void AdminServer::reserve_descriptor() {
  if (reserve_.load() >= 0) return;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int none = -1;
  if (fd >= 0 && !reserve_.compare_exchange_strong(none, fd)) ::close(fd);
}

bool AdminServer::release_descriptor() {
  const int fd = reserve_.exchange(-1);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Whether a connection is waiting to be accepted (poll needs no descriptor of its own).
bool AdminServer::client_waiting() {
  return socket_.fd().with_fd([](int s) {
    pollfd p{s, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0 ? 1 : 0;
  }) == 1;
}

void AdminServer::accept_loop() {
  while (!stopping_.load()) {
    slots_.acquire();  // at the limit, the kernel queues admin clients
    if (stopping_.load()) break;
    reserve_descriptor();  // if it was used, or could not be had before
    auto c = socket_.accept();
    // Out of descriptors with a client waiting: give it the reserve (see admin.h).
    bool reserved = false;
    if (!c && net::is_resource_exhausted(c.error()) && client_waiting() &&
        release_descriptor()) {
      reserved = true;
      c = socket_.accept();
    }
    if (!c) {
      slots_.release();
      if (net::is_closed(c.error()) || stopping_.load()) break;
      if (net::is_resource_exhausted(c.error())) {
        sleep_for(50ms);
        continue;
      }
      log_warn("admin: accept: ", c.error().message());
      continue;
    }
    open_.add(1);
    go([this, conn = std::move(*c), reserved]() mutable {
      serve(std::move(conn));  // closes it
      if (reserved) reserve_descriptor();
      slots_.release();
      open_.done();
    });
  }
  stopped_.notify();
}

std::string AdminServer::respond(const std::string& method, const std::string& target) {
  if (method != "GET") {
    return http::response(405, kText, "the admin endpoint answers GET only\n", "Allow: GET\r\n");
  }
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/metrics") return http::response(200, kPrometheus, routes_.metrics());
  if (path == "/ready") {
    return routes_.ready() ? http::response(200, kText, "ready\n")
                           : http::response(503, kText, "not ready: draining\n");
  }
  if (path == "/live") return http::response(200, kText, "live\n");
  if (path == "/config") return http::response(200, kText, routes_.config());
  return http::response(404, kText, "not found: try /metrics, /ready, /live or /config\n");
}

void AdminServer::serve(net::Conn conn) {
  const Time deadline = now() + kRequestTimeout;
  conn.set_deadline(deadline);
  std::string buf;
  std::string reply;
  char chunk[1024];
  for (;;) {
    http::Request req;
    size_t consumed = 0;
    const http::Parse p = http::parse_request(buf, &req, &consumed);
    if (p == http::Parse::complete) {
      reply = respond(req.method, req.target);
      break;
    }
    if (p != http::Parse::incomplete) {
      const int status = p == http::Parse::target_too_long ? 414
                         : p == http::Parse::too_large     ? 431
                         : p == http::Parse::version_unsupported ? 505
                                                                 : 400;
      reply = http::response(status, kText, std::string(http::reason_phrase(status)) + "\n");
      break;
    }
    auto r = conn.read(std::as_writable_bytes(std::span(chunk)));
    if (net::is_timeout(r.error)) {
      reply = http::response(408, kText, "request timeout\n");
      break;
    }
    if (r.error || r.bytes == 0) return;  // gone, or closed before a whole request
    buf.append(chunk, r.bytes);
  }
  conn.set_deadline(now() + 5s);  // a little time to deliver even a timeout's answer
  conn.write_all(std::as_bytes(std::span(reply)));
  conn.shutdown_write();
  conn.close();
}

}  // namespace parkway::proxy
