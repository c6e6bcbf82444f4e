// proxy_backend: the upstream server of the proxy benchmark (bench/proxy/compare), on
// parkway's runtime. Three listeners on 127.0.0.1, kernel-chosen ports:
//
//   echo    writes back whatever it reads, until end of stream (then closes)
//   sink    reads and discards until end of stream
//   source  writes a constant pattern until the peer goes away
//
// It prints one line, "echo=PORT sink=PORT source=PORT", once all three listen, and
// serves until its standard input reaches end of stream (the harness holds a pipe to it,
// so the backend cannot outlive the harness) or it is killed.
//
//   proxy_backend [--procs N]
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "bench/proxy/common.h"
#include "netpoll/socket.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

namespace pb = parkway::bench;
namespace net = parkway::net;
using parkway::go;

namespace {

constexpr const char* kProg = "proxy_backend";

void echo(net::Conn c) {
  c.set_nodelay(true);
  pb::Buffer buf(16 * 1024);
  for (;;) {
    auto r = c.read({buf.data.get(), buf.size});
    if (r.bytes == 0) break;  // end of stream or error
    if (!c.write_all({buf.data.get(), r.bytes}).ok()) break;
  }
  c.close();
}

void sink(net::Conn c) {
  pb::Buffer buf(256 * 1024);
  while (c.read({buf.data.get(), buf.size}).bytes > 0) {
  }
  c.close();
}

void source(net::Conn c) {
  pb::Buffer buf(256 * 1024, 0x5a);
  while (c.write_all({buf.data.get(), buf.size}).ok()) {
  }
  c.close();
}

template <class Serve>
void serve(net::Listener& ln, Serve fn) {
  for (;;) {
    auto conn = ln.accept();
    if (!conn) {
      if (net::is_resource_exhausted(conn.error())) {
        parkway::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      return;  // closed
    }
    go([fn, c = std::move(*conn)]() mutable { fn(std::move(c)); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  pb::Flags flags(kProg, argc, argv, 1, {{"procs", "2"}});
  parkway::Runtime rt({.procs = static_cast<int>(flags.integer("procs"))});
  // Standard input closing (the harness exited or closed the pipe) ends the process.
  std::thread([] {
    char b[256];
    while (::read(0, b, sizeof b) > 0) {
    }
    std::fflush(stdout);
    ::_exit(0);
  }).detach();
  return rt.run([]() -> int {
    auto lo = net::SocketAddress::loopback_v4(0);
    auto e = net::Listener::listen(lo);
    auto s = net::Listener::listen(lo);
    auto o = net::Listener::listen(lo);
    if (!e || !s || !o) pb::die(kProg, "listen on 127.0.0.1 failed");
    std::printf("echo=%u sink=%u source=%u\n", e->local_address()->port(),
                s->local_address()->port(), o->local_address()->port());
    std::fflush(stdout);
    go([&] { serve(*s, sink); });
    go([&] { serve(*o, source); });
    serve(*e, echo);
    return 0;
  });
}
