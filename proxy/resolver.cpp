#include "proxy/resolver.h"

#define ASIO_STANDALONE 1
#define ASIO_NO_DEPRECATED 1
#include <asio.hpp>
#include <thread>

#include "scheduler/sync.h"

namespace parkway::proxy {

struct Resolver::Impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::ip::tcp::resolver resolver{io};
  std::thread thread{[this] { io.run(); }};
};

namespace {

// Shared by the goroutine and the Asio thread: whoever finishes last frees it, so a
// goroutine that timed out can leave while the query is still in flight.
struct Query {
  Notification done;
  std::error_code error;
  std::vector<net::SocketAddress> addresses;
};

}  // namespace

Resolver::Resolver() : impl_(std::make_unique<Impl>()) {}

Resolver::~Resolver() {
  impl_->work.reset();
  impl_->resolver.cancel();
  impl_->io.stop();
  impl_->thread.join();
}

net::Result<std::vector<net::SocketAddress>> Resolver::resolve(const std::string& host,
                                                               uint16_t port, Duration timeout) {
  auto q = std::make_shared<Query>();
  asio::post(impl_->io, [this, q, host, port] {
    impl_->resolver.async_resolve(
        host, std::to_string(port), asio::ip::resolver_base::numeric_service,
        [q](const std::error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
          if (ec) {
            q->error = ec;
          } else {
            for (const auto& entry : results) {
              const auto ep = entry.endpoint();
              auto a =
                  net::SocketAddress::from_sockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
              bool seen = false;
              for (const auto& b : q->addresses) seen = seen || b == a;
              if (!seen) q->addresses.push_back(a);
            }
          }
          q->done.notify();
        });
  });
  if (!q->done.wait_for(timeout)) return net::Errc::timeout;
  if (q->error) return q->error;
  return q->addresses;
}

}  // namespace parkway::proxy
