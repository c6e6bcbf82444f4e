// Runtime micro-benchmarks; each mirrors a Go benchmark in go/runtime_test.go so that
// `bench/runtime/compare` can put them side by side. Times are wall-clock (UseRealTime):
// the measured loop runs in a goroutine, which may move between OS threads.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "netpoll/socket.h"
#include "scheduler/channel.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"

namespace {

int procs_arg(const benchmark::State& state) { return static_cast<int>(state.range(0)); }

// Two goroutines on one P yielding to each other: every iteration is two switches, so
// the reported time per iteration is halved into "ns_per_switch".
void BM_Switch(benchmark::State& state) {
  parkway::Runtime rt({.procs = 1});
  rt.run([&] {
    std::atomic<bool> stop{false};
    parkway::WaitGroup wg;
    wg.add(1);
    parkway::go([&] {
      while (!stop.load(std::memory_order_relaxed)) parkway::yield();
      wg.done();
    });
    parkway::yield();  // let it start
    const auto start = parkway::now();
    for (auto _ : state) parkway::yield();
    const auto elapsed = parkway::now() - start;
    stop = true;
    wg.wait();
    state.counters["ns_per_switch"] =
        static_cast<double>(elapsed.count()) / (2.0 * static_cast<double>(state.iterations()));
  });
}
BENCHMARK(BM_Switch)->UseRealTime();

// Spawn one goroutine and wait for it to finish, over and over.
void BM_SpawnJoin(benchmark::State& state) {
  parkway::Runtime rt({.procs = procs_arg(state)});
  rt.run([&] {
    for (auto _ : state) {
      parkway::WaitGroup wg;
      wg.add(1);
      parkway::go([&wg] { wg.done(); });
      wg.wait();
    }
  });
}
BENCHMARK(BM_SpawnJoin)->Arg(1)->Arg(2)->UseRealTime();

// Spawn 1000 goroutines, then wait for all: throughput of creation.
void BM_SpawnBatch(benchmark::State& state) {
  parkway::Runtime rt({.procs = procs_arg(state)});
  rt.run([&] {
    const auto start = parkway::now();
    for (auto _ : state) {
      parkway::WaitGroup wg;
      wg.add(1000);
      for (int i = 0; i < 1000; i++) parkway::go([&wg] { wg.done(); });
      wg.wait();
    }
    const auto elapsed = parkway::now() - start;
    state.counters["ns_per_goroutine"] =
        static_cast<double>(elapsed.count()) / (1000.0 * static_cast<double>(state.iterations()));
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_SpawnBatch)->Arg(1)->Arg(2)->UseRealTime();

// A round trip through two unbuffered channels: two parks and two readies.
void BM_ChanPingPong(benchmark::State& state) {
  parkway::Runtime rt({.procs = procs_arg(state)});
  rt.run([&] {
    parkway::Channel<int> ping, pong;
    parkway::WaitGroup wg;
    wg.add(1);
    parkway::go([&] {
      while (auto v = ping.recv()) pong.send(*v);
      wg.done();
    });
    int i = 0;
    for (auto _ : state) {
      ping.send(i++);
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
    wg.wait();
  });
}
BENCHMARK(BM_ChanPingPong)->Arg(1)->Arg(2)->UseRealTime();

long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Resident memory per parked goroutine: RSS growth with 100,000 goroutines parked on a
// Notification, divided by their number. Runs once (it is a size, not a speed).
void BM_ParkedGoroutineRSS(benchmark::State& state) {
  constexpr int kGoroutines = 100'000;
  for (auto _ : state) {
    parkway::Runtime rt({.procs = 2});
    double per = rt.run([&] {
      parkway::Notification release;
      parkway::WaitGroup parked, done;
      long before = rss_bytes();
      parked.add(kGoroutines);
      done.add(kGoroutines);
      for (int i = 0; i < kGoroutines; i++) {
        parkway::go([&] {
          parked.done();
          release.wait();
          done.done();
        });
      }
      parked.wait();
      long after = rss_bytes();
      release.notify();
      done.wait();
      return static_cast<double>(after - before) / kGoroutines;
    });
    state.counters["bytes_per_goroutine"] = per;
  }
}
BENCHMARK(BM_ParkedGoroutineRSS)->Iterations(1)->UseRealTime();

// One byte back and forth over a loopback TCP connection between two goroutines: every
// round trip is two writes, two reads and two wake-ups through the netpoller. Reports
// round trips per second and the p50/p99 of the round-trip time.
void BM_TcpPingPong(benchmark::State& state) {
  using namespace parkway;
  Runtime rt({.procs = 2});
  rt.run([&] {
    auto ln = net::Listener::listen(net::SocketAddress::loopback_v4(0));
    if (!ln) {
      state.SkipWithError("listen failed");
      return;
    }
    const auto addr = *ln->local_address();
    WaitGroup server_done;
    server_done.add(1);
    go([&] {
      auto c = ln->accept();
      if (c) {
        c->set_nodelay(true);
        std::byte b[1];
        while (c->read(b).bytes == 1 && c->write_all(b).ok()) {
        }
      }
      server_done.done();
    });
    auto c = net::Conn::dial(addr);
    if (!c) {
      state.SkipWithError("dial failed");
      return;
    }
    c->set_nodelay(true);
    std::vector<int64_t> rtt;
    rtt.reserve(1 << 20);
    std::byte b[1] = {std::byte{1}};
    const auto start = now();
    for (auto _ : state) {
      const auto t0 = now();
      c->write_all(b);
      c->read(b);
      if (rtt.size() < rtt.capacity()) rtt.push_back((now() - t0).count());
    }
    const auto elapsed = now() - start;
    c->close();
    server_done.wait();
    std::sort(rtt.begin(), rtt.end());
    auto pct = [&](double p) {
      return rtt.empty() ? 0.0
                         : static_cast<double>(
                               rtt[static_cast<size_t>(p * static_cast<double>(rtt.size() - 1))]);
    };
    state.counters["round_trips_per_s"] =
        static_cast<double>(state.iterations()) / (static_cast<double>(elapsed.count()) / 1e9);
    state.counters["p50_ns"] = pct(0.50);
    state.counters["p99_ns"] = pct(0.99);
  });
}
BENCHMARK(BM_TcpPingPong)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
