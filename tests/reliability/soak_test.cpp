// Case 13: the soak. Mixed traffic for a bounded time (PARKWAY_SOAK, a duration such as
// "10m"; 60 s if unset), checksummed throughout, while parkway's RSS, descriptors,
// goroutines and threads are sampled; each must stay flat.
//
// Hidden from the default run ([.soak]): tools/soak runs it, e.g. `tools/soak 10m`.
//
// The traffic: bulk duplex streams (up to 4 MiB each way), short request/response
// exchanges, a pool of idle connections that are held and replaced, clients and servers
// that reset mid-stream, slow readers, an admin scrape per second, and a reload every
// 20 s. Every completed stream is checked byte for byte; every reset must be seen as one.
//
// Flat is judged at checkpoints. Every `every` (20 s, or a tenth of the run), the workers
// finish what they are doing and wait; with only the idle pool open, parkway is sampled:
// its goroutines, threads and socket descriptors must be exactly what they were at the
// first checkpoint (after a warm-up that fills pools and caches), its pipe descriptors
// within the pool's bound, and its RSS within a few MiB of the first checkpoint's, with
// no upward trend. Then the traffic resumes.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "conf/duration.h"
#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

enum class Kind : uint32_t { bulk, short_exchange, client_reset, server_reset, slow_reader };

struct Header {
  uint64_t seed, up, down;
  uint32_t kind, pause_ms;
};
constexpr uint64_t kDownKey = 0x50a550a550a550a5ULL;

void serve(Peer& p, std::atomic<int>& bad) {
  p.step_timeout = scaled(120s);
  auto raw = p.recv_raw(sizeof(Header));
  if (!raw) {
    bad++;
    return;
  }
  Header h;
  std::memcpy(&h, raw->data(), sizeof h);
  if (h.kind == 0xffffffff) {  // an idle-pool connection: echo until the end
    echo(p.conn());
    return;
  }
  p.set_streams(h.seed ^ kDownKey, h.seed);
  switch (static_cast<Kind>(h.kind)) {
    case Kind::client_reset:
      Script().both(Script().send(h.down).shut_wr(), Script().drain()).run(p);
      if (!p.report().reset_seen()) bad++;
      return;
    case Kind::server_reset:
      p.send(h.down / 2);
      p.reset();
      return;
    default:
      if (!Script().both(Script().send(h.down).shut_wr(), Script().drain_eof(h.up)).run(p)) bad++;
  }
}

struct Sample {
  double t = 0;
  long rss_kib = 0;
  Fds fds;
  double goroutines = -1, threads = -1, open = -1, pooled = -1, stacks = -1;
};

// A gate the workers pass between two pieces of work; close() waits until every worker
// is waiting at it.
class Gate {
 public:
  explicit Gate(int workers) : workers_(workers) {}
  void pass() {
    if (!closed_.load()) return;
    waiting_++;
    while (closed_.load()) sleep_for(5ms);  // parked between pieces of work
    waiting_--;
  }
  bool close(Duration within) {
    closed_.store(true);
    return observe::eventually([&] { return waiting_.load() == workers_; }, within, 10ms);
  }
  void open() { closed_.store(false); }

 private:
  const int workers_;
  std::atomic<bool> closed_{false};
  std::atomic<int> waiting_{0};
};

}  // namespace

TEST_CASE(
    "case 13: soak: mixed checksummed traffic, RSS, descriptors, goroutines and threads "
    "stay flat",
    "[.soak][reliability]") {
  Duration total = 60s;
  if (const char* env = std::getenv("PARKWAY_SOAK"); env && *env) {
    auto d = conf::parse_duration(env);
    REQUIRE(d.ok());
    total = std::chrono::duration_cast<Duration>(d.value());
  }
  const Duration every = std::max<Duration>(std::min<Duration>(20s, total / 10), 5s);
  const Duration warmup = std::min<Duration>(every, 30s);
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    std::atomic<int> backend_bad{0};
    PeerServer a([&](Peer& p, int) { serve(p, backend_bad); });
    PeerServer b([&](Peer& p, int) { serve(p, backend_bad); });
    auto toml = [&](int gen) {
      return admin_toml() + listener_toml("app", "app") +
             cluster_toml("app", {a.endpoint(), b.endpoint()},
                          "connect_timeout = \"" + std::to_string(5 + gen % 2) + "s\"\n");
    };
    auto proxy = start_proxy(dir, toml(0), {"--log-level", "info"});
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    const pid_t pid = proxy->pid();

    constexpr int kWorkers = 16;
    constexpr int kIdle = 200;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> completed{0}, resets{0}, bytes{0};
    std::atomic<int> failed{0};
    Mutex mu;
    std::vector<std::string> failures;
    auto failure = [&](const std::string& why) {
      failed++;
      std::lock_guard<Mutex> g(mu);
      if (failures.size() < 20) failures.push_back(why);
    };
    Gate gate(kWorkers + 2);  // the stream workers, the idle pool's, the admin/reload one

    // The idle pool: kIdle connections held open; one is replaced (after an echo) every
    // few milliseconds by the pool worker.
    std::vector<std::optional<net::Conn>> idle(kIdle);
    auto open_idle = [&](size_t i) {
      auto c = net::Conn::dial(addr, now() + scaled(10s));
      if (!c) return failure("idle dial: " + c.error().message());
      Header h{0, 0, 0, 0xffffffff, 0};
      if (c->write_all(std::as_bytes(std::span(&h, 1))).error ||
          !echoes(*c, "idle", now() + scaled(10s))) {
        return failure("idle echo");
      }
      idle[i] = std::move(*c);
    };
    for (size_t i = 0; i < idle.size(); i++) open_idle(i);

    WaitGroup workers;
    workers.add(kWorkers + 1);
    go([&] {  // the idle pool worker
      std::mt19937_64 rng(99);
      while (!stop.load()) {
        gate.pass();
        const size_t i = rng() % idle.size();
        if (idle[i]) {
          if (!echoes(*idle[i], "still", now() + scaled(10s))) failure("idle connection lost");
          idle[i]->close();
        }
        open_idle(i);
        sleep_for(20ms);  // the pace of replacement
      }
      workers.done();
    });
    for (int w = 0; w < kWorkers; w++) {
      go([&, w] {
        std::mt19937_64 rng(static_cast<uint64_t>(w) * 31 + 5);
        for (uint64_t n = 0; !stop.load(); n++) {
          gate.pass();
          Header h{(static_cast<uint64_t>(w) << 40) + n + 1, 0, 0, 0, 0};
          const uint64_t r = rng() % 100;
          Kind kind = r < 30   ? Kind::bulk
                      : r < 85 ? Kind::short_exchange
                      : r < 90 ? Kind::client_reset
                      : r < 95 ? Kind::server_reset
                               : Kind::slow_reader;
          h.kind = static_cast<uint32_t>(kind);
          h.up = kind == Kind::bulk ? rng() % (4 << 20) : rng() % 2048;
          h.down = kind == Kind::bulk || kind == Kind::slow_reader ? rng() % (4 << 20)
                                                                   : 1 + rng() % 8192;
          h.pause_ms = static_cast<uint32_t>(rng() % 50);
          auto c = Peer::connect(addr, scaled(10s));
          if (!c) {
            failure("connect: " + c.error().message());
            continue;
          }
          c->step_timeout = scaled(120s);
          c->set_streams(h.seed, h.seed ^ kDownKey);
          c->send_raw(std::as_bytes(std::span(&h, 1)));
          bool ok = false;
          switch (kind) {
            case Kind::client_reset:
              ok = Script()
                       .send(h.up / 2)
                       .recv(1)
                       .pause(std::chrono::milliseconds(h.pause_ms))
                       .reset()
                       .run(*c);
              resets += ok;
              break;
            case Kind::server_reset:
              Script().both(Script().send(h.up).shut_wr(), Script().drain()).run(*c);
              ok = c->report().reset_seen() && c->report().mismatches == 0;
              resets += ok;
              break;
            case Kind::slow_reader:
              ok = Script()
                       .both(Script().send(h.up).shut_wr(),
                             Script().recv_slowly(h.down, 256 * 1024, 1ms).eof())
                       .run(*c);
              break;
            default:
              ok = Script().both(Script().send(h.up).shut_wr(), Script().drain_eof(h.down)).run(*c);
          }
          if (ok) {
            completed++;
            bytes += h.up + h.down;
          } else {
            failure(std::string("stream kind ") + std::to_string(h.kind) + ": " + c->failure());
          }
        }
        workers.done();
      });
    }

    // Admin scrapes and reloads, beside the traffic.
    std::atomic<int> reloads{0};
    Notification side_done;
    go([&] {
      Time next_reload = now() + 20s;
      int gen = 0;
      while (!stop.load()) {
        gate.pass();
        if (observe::http_get(admin, "/metrics", scaled(10s)).status != 200) failure("scrape");
        if (now() >= next_reload) {
          dir.write("parkway.toml", toml(++gen));
          const size_t mark = proxy->mark();
          proxy->signal(SIGHUP);
          if (proxy->wait_for_log("reload: done", 10s, mark)) {
            reloads++;
          } else {
            failure("reload");
          }
          next_reload = now() + 20s;
        }
        sleep_for(1s);  // the scrape interval
      }
      side_done.notify();
    });

    // Checkpoints.
    std::vector<Sample> samples;
    const Time t0 = now();
    const Time end = t0 + total;
    Time next = t0 + warmup;
    std::FILE* csv = nullptr;
    if (const char* path = std::getenv("PARKWAY_SOAK_CSV"); path && *path) {
      csv = std::fopen(path, "w");
      if (csv)
        std::fprintf(
            csv,
            "t_s,rss_kib,sockets,pipes,other_fds,goroutines,threads,open,pooled_pipes,completed\n");
    }
    while (true) {
      while (now() < next && now() < end) sleep_for(200ms);  // the soak's pace
      const bool last = now() >= end;
      REQUIRE(gate.close(scaled(180s)));
      // Only the idle pool is open now.
      observe::eventually(
          [&] {
            const auto m = observe::http_get(admin, "/metrics", scaled(5s));
            return observe::metric(m.body, "parkway_connections_open") == kIdle;
          },
          scaled(20s), 50ms);
      const auto m = observe::http_get(admin, "/metrics", scaled(5s));
      // The listener, the admin listener, and both ends of each idle connection (the
      // admin connection that just answered closes asynchronously).
      observe::eventually([&] { return fds_of(pid).sockets == 2 + 2 * kIdle; }, scaled(5s));
      Sample s;
      s.t = std::chrono::duration<double>(now() - t0).count();
      s.rss_kib = observe::memory(pid).rss_kib;
      s.fds = fds_of(pid);
      s.goroutines = observe::metric(m.body, "parkway_runtime_goroutines").value_or(-1);
      s.threads = observe::metric(m.body, "parkway_runtime_threads").value_or(-1);
      s.open = observe::metric(m.body, "parkway_connections_open").value_or(-1);
      s.pooled = observe::metric(m.body, R"(parkway_pipes{state="pooled"})").value_or(-1);
      s.stacks = observe::metric(m.body, "parkway_runtime_goroutine_stacks").value_or(-1);
      samples.push_back(s);
      std::printf(
          "soak %6.0fs: RSS %6ld KiB, fds %d sockets %d pipes %d other, goroutines %.0f, "
          "threads %.0f, stacks %.0f, open %.0f, pooled pipes %.0f; %llu streams, %llu resets, "
          "%.1f GiB\n",
          s.t, s.rss_kib, s.fds.sockets, s.fds.pipes, s.fds.other, s.goroutines, s.threads,
          s.stacks, s.open, s.pooled, static_cast<unsigned long long>(completed.load()),
          static_cast<unsigned long long>(resets.load()),
          static_cast<double>(bytes.load()) / (1 << 30));
      std::fflush(stdout);
      if (csv) {
        std::fprintf(csv, "%.1f,%ld,%d,%d,%d,%.0f,%.0f,%.0f,%.0f,%llu\n", s.t, s.rss_kib,
                     s.fds.sockets, s.fds.pipes, s.fds.other, s.goroutines, s.threads, s.open,
                     s.pooled, static_cast<unsigned long long>(completed.load()));
        std::fflush(csv);
      }
      if (last) break;
      gate.open();
      next = now() + every;
    }
    stop.store(true);
    gate.open();
    REQUIRE(workers.wait_until(now() + scaled(180s)));
    side_done.wait();
    for (auto& c : idle) {
      if (c) c->close();
    }
    if (csv) std::fclose(csv);

    std::string list;
    for (const auto& f : failures) list += f + "\n";
    INFO(list << "\n" << samples.size() << " checkpoints");
    CHECK(failed.load() == 0);
    CHECK(backend_bad.load() == 0);
    CHECK(completed.load() > 0);
    CHECK(reloads.load() >= static_cast<int>(total / 20s) - 1);
    REQUIRE(samples.size() >= 2);
    const Sample& first = samples.front();
    long max_rss = 0;
    for (const auto& s : samples) {
      INFO("checkpoint at " << s.t << " s");
      CHECK(s.goroutines == first.goroutines);
      CHECK(s.threads <= first.threads + 2);  // the runtime may start a spare M
      CHECK(s.fds.sockets == 2 + 2 * kIdle);
      CHECK(s.fds.other == first.fds.other);
      CHECK(s.fds.pipes - 2 == 2 * static_cast<int>(s.pooled));  // stdout, stderr + the pool
      CHECK(s.open == kIdle);
      max_rss = std::max(max_rss, s.rss_kib);
    }
    // RSS: within a few MiB of the first checkpoint, and the second half no higher than
    // the first half plus a little (no trend).
    const long bound = kSanitized ? 64 * 1024 : 8 * 1024;
    CHECK(max_rss - first.rss_kib < bound);
    long first_half = 0, second_half = 0;
    for (size_t i = 0; i < samples.size(); i++) {
      (i < samples.size() / 2 ? first_half : second_half) =
          std::max(i < samples.size() / 2 ? first_half : second_half, samples[i].rss_kib);
    }
    CHECK(second_half <= first_half + bound / 4);
  });
}
