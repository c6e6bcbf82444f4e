// The frames an idle connection parks on. An idle proxied connection costs ~2.8 KiB
// because its two pump goroutines give their stack pages back while they idle
// (release_stack_when_idle), keeping aside only their live bytes: the frames from each
// goroutine's entry down to the park in splice(). Those bytes are what this test guards,
// through the real accept path (ListenerState, AcceptLoop, Connection): a refactor that
// fattens a frame on that path (a buffer, a std::string, a log line's stream built in
// place) fails here, not only in the memory benchmark.
#include <catch2/catch.hpp>

#include "conf/keys.h"
#include "netpoll/socket.h"
#include "proxy/listener.h"
#include "proxy/resolver.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

using namespace parkway;
using namespace std::chrono_literals;

namespace {

// The live bytes one idle pump may keep aside, in an optimised build. Measured at the
// time of writing: 112 + the frames above it, about 600 bytes for the connection's own
// goroutine (accept closure, Connection::serve, pump, splice) and less for the other.
// Unoptimised and sanitized builds have much larger frames and are not held to it.
#if defined(NDEBUG) && !defined(PARKWAY_ASAN) && !defined(PARKWAY_TSAN)
constexpr int64_t kMaxLiveBytesPerPump = 768;
#else
constexpr int64_t kMaxLiveBytesPerPump = 16 * 1024;
#endif

net::SocketAddress loopback() { return *net::SocketAddress::parse("127.0.0.1:0"); }

}  // namespace

TEST_CASE("an idle connection's pumps park on small frames", "[proxy][memory]") {
  constexpr int kConnections = 8;
  Runtime rt({.procs = 2});
  rt.run([&] {
    // An echo backend.
    auto backend = net::Listener::listen(loopback());
    REQUIRE(backend);
    const auto backend_address = *backend->local_address();
    WaitGroup handlers;
    handlers.add(1);
    go([&] {
      for (;;) {
        auto c = backend->accept();
        if (!c) break;
        handlers.add(1);
        go([&handlers, conn = std::move(*c)]() mutable {
          std::byte buf[64];
          for (;;) {
            auto r = conn.read(buf);
            if (r.error || r.bytes == 0 || conn.write_all({buf, r.bytes}).error) break;
          }
          conn.close();
          handlers.done();
        });
      }
      handlers.done();
    });

    proxy::Resolver resolver;
    conf::Cluster cluster_config = conf::defaults<conf::Cluster>();
    cluster_config.name = "app";
    cluster_config.endpoints = {conf::parse_endpoint(backend_address.to_string()).value()};
    auto cluster = std::make_shared<proxy::ClusterState>(cluster_config, resolver);
    conf::Listener listener_config = conf::defaults<conf::Listener>();
    listener_config.name = "app";
    listener_config.cluster = "app";
    auto socket = net::Listener::listen(loopback());
    REQUIRE(socket);
    const auto address = *socket->local_address();
    proxy::ConnectionRegistry registry;
    WaitGroup connections;
    auto listener = std::make_unique<proxy::ListenerState>(
        listener_config, std::move(*socket), cluster, proxy::ServerHooks{registry, connections});
    listener->start();

    // Clients that each make one round trip, then idle.
    std::vector<net::Conn> clients;
    for (int i = 0; i < kConnections; i++) {
      auto c = net::Conn::dial(address, deadline_after(5s));
      REQUIRE(c);
      const std::byte ping[4] = {std::byte{'p'}, std::byte{'i'}, std::byte{'n'}, std::byte{'g'}};
      REQUIRE_FALSE(c->write_all(ping).error);
      std::byte back[4];
      size_t got = 0;
      c->set_read_deadline(deadline_after(5s));
      while (got < sizeof back) {
        auto r = c->read(std::span(back + got, sizeof back - got));
        REQUIRE_FALSE(r.error);
        REQUIRE(r.bytes > 0);
        got += r.bytes;
      }
      clients.push_back(std::move(*c));
    }

    // Every pump, two per connection, gives its pages back after a second or two idle.
    const Time until = deadline_after(20s);
    RuntimeStats st = runtime_stats();
    while (st.idle_stacks_released < 2 * kConnections && now() < until) {
      sleep_for(50ms);  // polling a counter that nothing announces
      st = runtime_stats();
    }
    INFO("released " << st.idle_stacks_released << " stacks keeping " << st.idle_stack_bytes_saved
                     << " live bytes");
    REQUIRE(st.idle_stacks_released == 2 * kConnections);
    const int64_t per_pump = st.idle_stack_bytes_saved / st.idle_stacks_released;
    INFO("live bytes per idle pump: " << per_pump << " (at most " << kMaxLiveBytesPerPump << ")");
    CHECK(per_pump > 0);
    CHECK(per_pump <= kMaxLiveBytesPerPump);

    for (auto& c : clients) c.close();
    connections.wait();
    listener->stop();
    backend->close();
    handlers.wait();
    cluster->stop();
  });
}
