#include "proxy/ops/admin.h"

#include "proxy/log/log.h"
#include "proxy/ops/http.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {

using namespace std::chrono_literals;

namespace {
constexpr Duration kRequestTimeout = 5s;
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

// One admin request, on a goroutine of its own.
class AdminServer::Request final : public Accepted {
 public:
  Request(AdminServer& server, net::Conn conn) : server_(server), conn_(std::move(conn)) {}
  void serve() override { server_.serve(std::move(conn_)); }

 private:
  AdminServer& server_;
  net::Conn conn_;
};

AdminServer::AdminServer(net::Listener socket, int max_connections, Routes routes)
    : routes_(std::move(routes)) {
  if (auto a = socket.local_address()) address_ = *a;
  loop_ = std::make_shared<AcceptLoop>(
      std::move(socket),
      AcceptLoop::Options{
          .name = "admin", .limit = max_connections, .keep_reserve = true, .tracked = &open_},
      [this](net::Conn conn, const net::SocketAddress&) {
        return std::make_unique<Request>(*this, std::move(conn));
      });
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() { loop_->start(); }

void AdminServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  loop_->stop();
  open_.wait();
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
  if (path == "/clusters") {
    const std::string query =
        target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    if (query == "format=text") return http::response(200, kText, routes_.clusters(true));
    if (query.empty() || query == "format=json") {
      return http::response(200, "application/json", routes_.clusters(false));
    }
    return http::response(400, kText,
                          "expected /clusters, /clusters?format=text or ?format=json\n");
  }
  return http::response(404, kText,
                        "not found: try /metrics, /ready, /live, /config or /clusters\n");
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
      const int status = p == http::Parse::target_too_long       ? 414
                         : p == http::Parse::too_large           ? 431
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
