// Case 9: 2,000 connections at once, each with a behaviour of its own drawn at random
// (sizes, who speaks and finishes first, pauses, slow reading, a reset from either side).
// Every stream that completes is checked byte for byte and by checksum on both sides;
// every stream that a reset cut short is a correct prefix on the other side, which saw a
// reset (never a clean end of stream); parkway counts each connection's end under the
// right cause; and afterwards parkway holds nothing: descriptors back to idle, no socket
// in CLOSE_WAIT, none on the machine toward its ports either.
#include <cstring>
#include <map>
#include <random>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::End;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

enum class Mode : uint32_t {
  duplex,        // both send and read at once, each FINs after sending
  client_first,  // the client sends and FINs, then reads the reply
  server_first,  // the server sends and FINs, then reads the client's stream
  pauses,        // like duplex, with pauses mid-stream on the client
  slow_reader,   // like duplex, the client reads 8 KiB per millisecond
  client_reset,  // the client sends part of its stream, reads a little, then resets
  server_reset,  // the server sends part of its stream, then resets
  count
};
const char* mode_name(Mode m) {
  static const char* names[] = {"duplex",      "client_first", "server_first", "pauses",
                                "slow_reader", "client_reset", "server_reset"};
  return names[static_cast<int>(m)];
}

// What a client tells the server first, as raw bytes.
struct Header {
  uint64_t seed;  // the client's stream; the server's is seed ^ kDownKey
  uint64_t up, down;
  uint32_t mode, pause_ms;
};
static_assert(sizeof(Header) == 32, "the header is sent as raw bytes");
constexpr uint64_t kDownKey = 0x5eed5eed5eed5eedULL;

Header plan_for(int i) {
  std::mt19937_64 rng(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL + 7);
  // Sizes spread over six orders of magnitude: most small, some up to 1 MiB.
  auto size = [&] {
    const int bits = static_cast<int>(rng() % 21);
    return rng() % ((1ull << bits) + 1);
  };
  Header h{};
  h.seed = static_cast<uint64_t>(i) + 1;
  h.up = size();
  h.down = size();
  h.mode = static_cast<uint32_t>(rng() % static_cast<uint64_t>(Mode::count));
  h.pause_ms = static_cast<uint32_t>(rng() % 200);
  if (static_cast<Mode>(h.mode) == Mode::client_reset) h.down = std::max<uint64_t>(h.down, 1);
  return h;
}

}  // namespace

TEST_CASE(
    "case 9: 2000 connections at once with random behaviour: every completed stream is "
    "exact, every reset is a reset, and parkway holds nothing afterwards",
    "[reliability][storm]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  test::GoChecks checks;
  constexpr int kClients = 2000;
  std::map<Mode, int> planned;
  for (int i = 0; i < kClients; i++) planned[static_cast<Mode>(plan_for(i).mode)]++;

  rt.run([&] {
    Mutex mu;
    std::map<uint64_t, peer::Report> server_reports;  // by client seed
    std::atomic<int> headerless{0};
    PeerServer server([&](Peer& p, int) {
      p.step_timeout = scaled(120s);
      auto raw = p.recv_raw(sizeof(Header));
      if (!raw) {
        headerless++;
        return;
      }
      Header h;
      std::memcpy(&h, raw->data(), sizeof h);
      p.set_streams(h.seed ^ kDownKey, h.seed);
      switch (static_cast<Mode>(h.mode)) {
        case Mode::client_first: Script().drain_eof(h.up).send(h.down).shut_wr().run(p); break;
        case Mode::server_first: Script().send(h.down).shut_wr().drain_eof(h.up).run(p); break;
        case Mode::client_reset:
          // The client resets at some point: what this side sees is checked below.
          Script().both(Script().send(h.down).shut_wr(), Script().drain()).run(p);
          break;
        case Mode::server_reset:
          p.send(h.down / 2);
          p.pause(std::chrono::milliseconds(h.pause_ms % 20));
          p.reset();
          break;
        default: Script().both(Script().send(h.down).shut_wr(), Script().drain_eof(h.up)).run(p);
      }
      std::lock_guard<Mutex> g(mu);
      server_reports[h.seed] = p.report();
    });
    // max_connections sized for the storm, with room to spare: parkway warns at start when
    // the open-files limit cannot hold 2 descriptors for each of max_connections, and the
    // default (10000) asks for more than this test does.
    auto proxy = start_proxy(
        dir,
        admin_toml() +
            listener_toml("app", "app", "max_connections = " + std::to_string(2 * kClients)) +
            cluster_toml("app", {server.endpoint()}),
        {"--log-level", "info"});
    const auto admin = admin_address(*proxy);
    const Baseline base = baseline_of(*proxy);
    const auto addr = loopback(proxy->port_of("app"));

    std::vector<peer::Report> client_reports(kClients);
    std::vector<std::string> client_failures(kClients);
    WaitGroup clients;
    clients.add(kClients);
    for (int i = 0; i < kClients; i++) {
      go([&, i] {
        const Header h = plan_for(i);
        auto c = Peer::connect(addr, scaled(60s));
        if (!c) {
          client_failures[i] = "connect: " + c.error().message();
          clients.done();
          return;
        }
        Peer& p = *c;
        p.step_timeout = scaled(120s);
        p.set_streams(h.seed, h.seed ^ kDownKey);
        p.send_raw(std::as_bytes(std::span(&h, 1)));
        const auto pause = std::chrono::milliseconds(h.pause_ms);
        switch (static_cast<Mode>(h.mode)) {
          case Mode::duplex:
            Script().both(Script().send(h.up).shut_wr(), Script().drain_eof(h.down)).run(p);
            break;
          case Mode::client_first: Script().send(h.up).shut_wr().drain_eof(h.down).run(p); break;
          case Mode::server_first: Script().drain_eof(h.down).send(h.up).shut_wr().run(p); break;
          case Mode::pauses:
            Script()
                .both(Script().send(h.up / 3).pause(pause).send(h.up - h.up / 3).shut_wr(),
                      Script().recv(h.down / 2).pause(pause / 2).drain_eof(h.down))
                .run(p);
            break;
          case Mode::slow_reader:
            Script()
                .both(Script().send(h.up).shut_wr(), Script().recv_slowly(h.down, 8192, 1ms).eof())
                .run(p);
            break;
          case Mode::client_reset:
            // The server sends only after reading the header: one byte back proves the
            // header got through, so the server knows whose connection it was.
            Script().send(h.up / 2).recv(1).pause(pause / 4).reset().run(p);
            break;
          case Mode::server_reset:
            Script().both(Script().send(h.up).shut_wr(), Script().drain()).run(p);
            break;
          case Mode::count: break;
        }
        client_failures[i] = p.failure();
        client_reports[i] = p.report();
        p.close();
        clients.done();
      });
    }
    REQUIRE(clients.wait_until(now() + scaled(300s)));
    REQUIRE(server.wait_finished(kClients, now() + scaled(60s)));

    // Judge every connection from both ends.
    int exact = 0, resets_seen = 0;
    std::vector<std::string> wrong;
    for (int i = 0; i < kClients; i++) {
      const Header h = plan_for(i);
      const Mode mode = static_cast<Mode>(h.mode);
      const peer::Report& cr = client_reports[i];
      peer::Report sr;
      bool have_server = false;
      {
        std::lock_guard<Mutex> g(mu);
        auto it = server_reports.find(h.seed);
        if (it != server_reports.end()) {
          sr = it->second;
          have_server = true;
        }
      }
      std::string why;
      if (!have_server) {
        why = "the server never saw its header";
      } else if (cr.mismatches != 0 || sr.mismatches != 0) {
        why = "corrupted bytes";
      } else if (mode == Mode::client_reset) {
        // The server sees a prefix of the client's stream, then a reset.
        if (!sr.reset_seen()) why = std::string("server saw no reset: ") + to_string(sr.end);
        if (sr.received - sizeof(Header) > h.up / 2) why += "; server got more than was sent";
        if (!client_failures[i].empty()) why += "; client: " + client_failures[i];
        resets_seen += why.empty();
      } else if (mode == Mode::server_reset) {
        if (!cr.reset_seen()) why = std::string("client saw no reset: ") + to_string(cr.end);
        if (cr.received > h.down / 2) why += "; client got more than was sent";
        resets_seen += why.empty();
      } else {
        if (!client_failures[i].empty()) why = "client: " + client_failures[i];
        if (!sr.ok()) why += "; server: " + sr.failure;
        if (cr.sent_sum.value != sr.received_sum.value) why += "; upstream checksum differs";
        if (cr.received_sum.value != sr.sent_sum.value) why += "; downstream checksum differs";
        if (cr.received != h.down || sr.received != sizeof(Header) + h.up) why += "; sizes differ";
        exact += why.empty();
      }
      if (!why.empty() && wrong.size() < 20) {
        wrong.push_back("client " + std::to_string(i) + " (" + mode_name(mode) + ", up " +
                        std::to_string(h.up) + ", down " + std::to_string(h.down) + "): " + why);
      }
    }
    std::string report;
    for (const auto& w : wrong) report += w + "\n";
    INFO(report);
    const int resets = planned[Mode::client_reset] + planned[Mode::server_reset];
    CHECK(exact == kClients - resets);
    CHECK(resets_seen == resets);
    CHECK(headerless.load() == 0);

    // parkway counted each end under its cause.
    const auto m = observe::http_get(admin, "/metrics");
    REQUIRE(m.status == 200);
    auto closed = [&](const char* cause) {
      return static_cast<int>(
          observe::metric(
              m.body,
              std::string("parkway_cluster_connections_closed_total{cluster=\"app\",cause=\"") +
                  cause + "\"}")
              .value_or(0));
    };
    INFO(m.body);
    CHECK(closed("client_eof") + closed("upstream_eof") == kClients - resets);
    // Each reset is counted as a reset of the side that sent it, never as an error or as a
    // reset of the other side.
    CHECK(closed("client_reset") == planned[Mode::client_reset]);
    CHECK(closed("upstream_reset") == planned[Mode::server_reset]);
    CHECK(closed("client_error") == 0);
    CHECK(closed("upstream_error") == 0);

    // Nothing left: not in parkway, not on the machine toward its ports.
    CHECK(not_idle(*proxy, base, admin) == "");
    const std::vector<uint16_t> ports = {addr.port(), server.address().port()};
    CHECK(observe::eventually([&] { return observe::sockets_in_state("CLOSE_WAIT", ports) == 0; },
                              scaled(10s)));
    CHECK(proxy->find_all("warn|error").empty());
  });
  checks.report();
}
