// proxy_loadgen: the load generator of the proxy benchmark (bench/proxy/compare), on
// parkway's own runtime. Each subcommand runs one kind of load against --addr (a proxy,
// or the backend directly), for a bounded time, and prints one JSON object on stdout.
//
//   bulk   --addr A --dir up|down --streams N --warmup S --duration S
//          N connections, each moving bytes one way as fast as it can: "up" writes (to the
//          backend's sink), "down" reads (from its source). Bytes are counted after the
//          warm-up only. -> bytes, seconds, gbps, errors
//   rr     --addr A --conns N --size B --warmup S --duration S [--rate R]
//          Request/response over N connections to the echo backend: write B bytes, read
//          B bytes back. Closed loop (rate 0, the default): each connection sends its next
//          request as soon as the reply is in, latency = send to reply. Open loop
//          (rate R > 0 requests/s in all): every request has a scheduled send time, the
//          connections taking them in turn on a fixed grid; a connection that falls behind
//          sends at once, and latency is measured from the *scheduled* time, so a stall
//          shows up in every request it delayed instead of being hidden by the client
//          waiting (coordinated omission). -> count, seconds, rate, p50/p90/p99/p999/max ns
//   churn  --addr A --clients N --size B --warmup S --duration S
//          N clients in a loop: connect, B bytes each way (echo), close. Setup time is
//          from the start of connect to the first reply's arrival: connecting to a proxy
//          completes in its kernel before the proxy does anything, so the reply is what
//          shows that it accepted, connected upstream and forwarded.
//          -> count, seconds, rate, setup_p50_ns, setup_p99_ns, errors
//   idle   --addr A --conns N --size B
//          Opens N connections and holds them without a byte, then follows commands on
//          standard input, one per line: "burst" (every connection sends B bytes and reads
//          them back, all at once), "close" (or end of input: close all and exit). Prints
//          "open N errors E" and "burst N errors E" as the phases complete.
//
// Every loop is bounded in time; every socket operation has a deadline, so a stalled
// proxy shows up as errors (and a latency sample at the deadline), never as a hang.
// Latencies go into per-goroutine log-linear histograms (histogram.h, 0.8 % precision).
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/proxy/common.h"
#include "bench/proxy/histogram.h"
#include "netpoll/socket.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

namespace pb = parkway::bench;
namespace net = parkway::net;
using parkway::Duration;
using parkway::go;
using parkway::now;
using parkway::Time;
using parkway::WaitGroup;

namespace {

constexpr const char* kProg = "proxy_loadgen";

Duration seconds(double s) { return Duration(static_cast<int64_t>(s * 1e9)); }
double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

// Reads exactly buf.size() bytes; false on end of stream or error.
bool read_full(net::Conn& c, std::span<std::byte> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    auto r = c.read(buf.subspan(got));
    if (r.bytes == 0) return false;
    got += r.bytes;
  }
  return true;
}

// Cache-line-sized counters, one per goroutine, so they never share a line.
struct alignas(64) Counter {
  std::atomic<uint64_t> v{0};
};

// ---------------------------------------------------------------------------- bulk

int bulk(const pb::Flags& f) {
  const auto addr = f.addr("addr");
  const bool up = f.str("dir") == "up";
  if (!up && f.str("dir") != "down") pb::die(kProg, "--dir must be up or down");
  const long streams = f.integer("streams");
  const auto warmup = seconds(f.num("warmup"));
  const auto duration = seconds(f.num("duration"));
  std::vector<Counter> bytes(static_cast<size_t>(streams));
  std::atomic<uint64_t> errors{0};
  WaitGroup wg;
  const Time start = now();
  const Time end = start + warmup + duration;
  for (long i = 0; i < streams; i++) {
    wg.add(1);
    go([&, i] {
      auto c = net::Conn::dial(addr, now() + std::chrono::seconds(5));
      if (!c) {
        errors++;
        wg.done();
        return;
      }
      // The deadline ends the transfer: a write or read in progress at `end` returns.
      c->set_deadline(end);
      pb::Buffer buf(128 * 1024, 0xa5);
      auto& n = bytes[static_cast<size_t>(i)].v;
      for (;;) {
        auto r =
            up ? c->write_all({buf.data.get(), buf.size}) : c->read({buf.data.get(), buf.size});
        n.fetch_add(r.bytes, std::memory_order_relaxed);
        if (!r.ok() || r.bytes == 0) {
          if (!net::is_timeout(r.error)) errors++;  // a timeout is the planned end
          break;
        }
      }
      c->close();
      wg.done();
    });
  }
  auto total = [&] {
    uint64_t s = 0;
    for (auto& b : bytes) s += b.v.load(std::memory_order_relaxed);
    return s;
  };
  parkway::sleep_until(start + warmup);
  const uint64_t b0 = total();
  const Time t0 = now();
  parkway::sleep_until(end);
  const uint64_t b1 = total();
  const double secs = to_seconds(now() - t0);
  wg.wait();
  const double gbps = static_cast<double>(b1 - b0) * 8 / secs / 1e9;
  std::printf("{\"bytes\": %" PRIu64 ", \"total_bytes\": %" PRIu64
              ", \"seconds\": %.4f, \"gbps\": %.4f, \"errors\": %" PRIu64 "}\n",
              b1 - b0, total(), secs, gbps, errors.load());
  return 0;
}

// ---------------------------------------------------------------------------- rr

void print_latency(const char* prefix, const pb::Histogram& h) {
  std::printf("\"%sp50_ns\": %" PRIu64 ", \"%sp90_ns\": %" PRIu64 ", \"%sp99_ns\": %" PRIu64
              ", \"%sp999_ns\": %" PRIu64 ", \"%smax_ns\": %" PRIu64,
              prefix, h.quantile(0.5), prefix, h.quantile(0.9), prefix, h.quantile(0.99), prefix,
              h.quantile(0.999), prefix, h.max());
}

int rr(const pb::Flags& f) {
  const auto addr = f.addr("addr");
  const long conns = f.integer("conns");
  const size_t size = static_cast<size_t>(f.integer("size"));
  const auto warmup = seconds(f.num("warmup"));
  const auto duration = seconds(f.num("duration"));
  const double rate = f.num("rate");  // requests/s in all; 0: closed loop
  if (conns < 1 || size < 1) pb::die(kProg, "--conns and --size must be at least 1");
  // The grid of the open loop: request k of connection i is due at
  // start + (k * conns + i) / rate, i.e. the connections take the slots in turn.
  const double spacing_ns = rate > 0 ? 1e9 / rate : 0;
  std::vector<std::unique_ptr<pb::Histogram>> hists;
  for (long i = 0; i < conns; i++) hists.push_back(std::make_unique<pb::Histogram>());
  std::atomic<uint64_t> errors{0};

  // Connect everything first, so that connection setup is not part of the measurement.
  std::vector<net::Conn> cs(static_cast<size_t>(conns));
  {
    WaitGroup wg;
    for (long i = 0; i < conns; i++) {
      wg.add(1);
      go([&, i] {
        auto c = net::Conn::dial(addr, now() + std::chrono::seconds(5));
        if (c) {
          c->set_nodelay(true);
          cs[static_cast<size_t>(i)] = std::move(*c);
        } else {
          errors++;
        }
        wg.done();
      });
    }
    wg.wait();
  }
  if (errors) {
    std::printf("{\"count\": 0, \"seconds\": 0, \"rate\": 0, \"errors\": %" PRIu64 "}\n",
                errors.load());
    return 0;
  }

  const Time start = now() + std::chrono::milliseconds(5);
  const Time warm_end = start + warmup;
  const Time end = warm_end + duration;
  std::atomic<uint64_t> done{0};  // round trips completed, warm-up included
  // Slack past the end for a reply in flight; a reply later than this is a stall.
  const Duration slack = std::chrono::seconds(2);
  WaitGroup wg;
  for (long i = 0; i < conns; i++) {
    wg.add(1);
    go([&, i] {
      net::Conn& c = cs[static_cast<size_t>(i)];
      pb::Histogram& h = *hists[static_cast<size_t>(i)];
      pb::Buffer req(size, 0x42), resp(size);
      c.set_deadline(end + slack);
      for (int64_t k = 0;; k++) {
        Time t0;
        if (rate > 0) {
          t0 = start +
               Duration(static_cast<int64_t>(static_cast<double>(k * conns + i) * spacing_ns));
          if (t0 >= end) break;
          if (now() < t0) parkway::sleep_until(t0);
        } else {
          t0 = now();
          if (t0 >= end) break;
        }
        bool ok = c.write_all({req.data.get(), size}).ok() && read_full(c, {resp.data.get(), size});
        const Time t1 = now();
        if (t0 >= warm_end) h.record((t1 - t0).count());
        if (!ok) {
          errors++;
          break;
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
      c.close();
      wg.done();
    });
  }
  wg.wait();
  pb::Histogram all;
  for (auto& h : hists) all.merge(*h);
  const double secs = to_seconds(duration);
  std::printf("{\"count\": %" PRIu64 ", \"total\": %" PRIu64
              ", \"seconds\": %.4f, \"rate\": %.1f, \"errors\": %" PRIu64 ", ",
              all.count(), done.load(), secs, static_cast<double>(all.count()) / secs,
              errors.load());
  print_latency("", all);
  std::printf("}\n");
  return 0;
}

// ---------------------------------------------------------------------------- churn

int churn(const pb::Flags& f) {
  const auto addr = f.addr("addr");
  const long clients = f.integer("clients");
  const size_t size = static_cast<size_t>(f.integer("size"));
  const auto warmup = seconds(f.num("warmup"));
  const auto duration = seconds(f.num("duration"));
  std::vector<std::unique_ptr<pb::Histogram>> hists;
  for (long i = 0; i < clients; i++) hists.push_back(std::make_unique<pb::Histogram>());
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> done{0};  // connections completed, warm-up included
  const Time start = now();
  const Time warm_end = start + warmup;
  const Time end = warm_end + duration;
  WaitGroup wg;
  for (long i = 0; i < clients; i++) {
    wg.add(1);
    go([&, i] {
      pb::Histogram& h = *hists[static_cast<size_t>(i)];
      pb::Buffer req(size, 0x43), resp(size);
      for (;;) {
        const Time t0 = now();
        if (t0 >= end) break;
        const Time deadline = t0 + std::chrono::seconds(2);
        auto c = net::Conn::dial(addr, deadline);
        bool ok = false;
        if (c) {
          c->set_nodelay(true);
          c->set_deadline(deadline);
          ok = c->write_all({req.data.get(), size}).ok() && read_full(*c, {resp.data.get(), size});
        }
        const Time t1 = now();
        if (c) c->close();
        if (!ok) {
          errors++;
          parkway::sleep_for(std::chrono::milliseconds(1));  // no tight loop on refusals
          continue;
        }
        done.fetch_add(1, std::memory_order_relaxed);
        if (t0 >= warm_end) h.record((t1 - t0).count());
      }
      wg.done();
    });
  }
  wg.wait();
  pb::Histogram all;
  for (auto& h : hists) all.merge(*h);
  const double secs = to_seconds(duration);
  std::printf("{\"count\": %" PRIu64 ", \"total\": %" PRIu64
              ", \"seconds\": %.4f, \"rate\": %.1f, \"errors\": %" PRIu64 ", ",
              all.count(), done.load(), secs, static_cast<double>(all.count()) / secs,
              errors.load());
  print_latency("setup_", all);
  std::printf("}\n");
  return 0;
}

// ---------------------------------------------------------------------------- idle

int idle(const pb::Flags& f) {
  const auto addr = f.addr("addr");
  const long n = f.integer("conns");
  const size_t size = static_cast<size_t>(f.integer("size"));
  // Commands arrive on standard input, read by a plain thread (a blocking read would hold
  // up a P) and handed to the main goroutine through Notifications.
  parkway::Notification burst_cmd, close_cmd;
  std::thread([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line == "burst") burst_cmd.notify();
      if (line == "close") break;
    }
    burst_cmd.notify();
    close_cmd.notify();
  }).detach();

  std::vector<net::Conn> cs(static_cast<size_t>(n));
  std::atomic<uint64_t> errors{0};
  {
    // 64 dialers, each taking every 64th connection: a bounded number in flight at once.
    constexpr long kDialers = 64;
    WaitGroup wg;
    for (long d = 0; d < kDialers; d++) {
      wg.add(1);
      go([&, d] {
        for (long i = d; i < n; i += kDialers) {
          auto c = net::Conn::dial(addr, now() + std::chrono::seconds(10));
          if (!c) {
            errors++;
            continue;
          }
          c->set_nodelay(true);
          cs[static_cast<size_t>(i)] = std::move(*c);
        }
        wg.done();
      });
    }
    wg.wait();
  }
  std::printf("open %ld errors %" PRIu64 "\n", n - static_cast<long>(errors.load()), errors.load());
  std::fflush(stdout);

  burst_cmd.wait();
  if (!close_cmd.has_been_notified()) {
    std::atomic<uint64_t> ok{0}, bad{0};
    WaitGroup wg;
    for (auto& c : cs) {
      if (!c.valid()) continue;
      wg.add(1);
      go([&, p = &c] {
        pb::Buffer req(size, 0x44), resp(size);
        p->set_deadline(now() + std::chrono::seconds(10));
        if (p->write_all({req.data.get(), size}).ok() && read_full(*p, {resp.data.get(), size}))
          ok++;
        else
          bad++;
        p->set_deadline(parkway::kNoDeadline);
        wg.done();
      });
    }
    wg.wait();
    std::printf("burst %" PRIu64 " errors %" PRIu64 "\n", ok.load(), bad.load());
    std::fflush(stdout);
  }
  close_cmd.wait();
  for (auto& c : cs) c.close();
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: %s bulk|rr|churn|idle --addr IP:PORT [flags]; see the comment at the "
               "top of bench/proxy/loadgen.cpp\n",
               kProg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string cmd = argv[1];
  std::map<std::string, std::string> defaults = {{"addr", ""}, {"procs", "2"}};
  if (cmd == "bulk") {
    defaults.insert({{"dir", "up"}, {"streams", "1"}, {"warmup", "0.5"}, {"duration", "2"}});
  } else if (cmd == "rr") {
    defaults.insert(
        {{"conns", "1"}, {"size", "64"}, {"warmup", "0.5"}, {"duration", "2"}, {"rate", "0"}});
  } else if (cmd == "churn") {
    defaults.insert({{"clients", "8"}, {"size", "64"}, {"warmup", "0.5"}, {"duration", "2"}});
  } else if (cmd == "idle") {
    defaults.insert({{"conns", "1000"}, {"size", "64"}});
  } else {
    usage();
  }
  const pb::Flags flags(kProg, argc, argv, 2, defaults);
  parkway::Runtime rt({.procs = static_cast<int>(flags.integer("procs"))});
  return rt.run([&]() -> int {
    if (cmd == "bulk") return bulk(flags);
    if (cmd == "rr") return rr(flags);
    if (cmd == "churn") return churn(flags);
    return idle(flags);
  });
}
