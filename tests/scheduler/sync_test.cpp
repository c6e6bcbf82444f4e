// Mutex, WaitGroup, Notification and Channel under contention, from goroutines on
// several Ps and from plain threads.
#include "scheduler/sync.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>

#include "scheduler/channel.h"
#include "scheduler/runtime.h"
#include "tests/support/child.h"

using namespace std::chrono_literals;

TEST_CASE("Mutex gives mutual exclusion under contention across Ps", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  constexpr int kGoroutines = 16, kIters = 5000;
  int64_t counter = 0;
  std::atomic<int> inside{0}, overlap{0};
  rt.run([&] {
    parkway::Mutex mu;
    parkway::WaitGroup wg;
    for (int g = 0; g < kGoroutines; g++) {
      wg.add(1);
      parkway::go([&] {
        for (int i = 0; i < kIters; i++) {
          std::lock_guard<parkway::Mutex> lock(mu);
          if (inside.fetch_add(1) != 0) overlap++;
          int64_t v = counter;
          if (i % 64 == 0) parkway::yield();  // park others on the lock meanwhile
          counter = v + 1;
          inside.fetch_sub(1);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  CHECK(overlap.load() == 0);
  CHECK(counter == int64_t{kGoroutines} * kIters);
}

TEST_CASE("Mutex works between goroutines and plain threads", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  int64_t counter = 0;
  rt.run([&] {
    parkway::Mutex mu;
    parkway::WaitGroup wg;
    wg.add(4);
    for (int g = 0; g < 4; g++) {
      parkway::go([&] {
        for (int i = 0; i < 10000; i++) {
          std::lock_guard<parkway::Mutex> lock(mu);
          counter++;
        }
        wg.done();
      });
    }
    std::thread t([&] {
      for (int i = 0; i < 10000; i++) {
        std::lock_guard<parkway::Mutex> lock(mu);
        counter++;
      }
    });
    wg.wait();  // parks the goroutine: the thread may hold the lock meanwhile
    t.join();
    const bool free_again = mu.try_lock();
    CHECK(free_again);
    if (free_again) mu.unlock();
  });
  CHECK(counter == 50000);
}

TEST_CASE("WaitGroup and Notification release every waiter", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  std::atomic<int> released{0};
  rt.run([&] {
    parkway::Notification go_signal;
    parkway::WaitGroup ready, done;
    for (int i = 0; i < 100; i++) {
      ready.add(1);
      done.add(1);
      parkway::go([&] {
        ready.done();
        go_signal.wait();
        released++;
        done.done();
      });
    }
    ready.wait();
    CHECK(released.load() == 0);
    go_signal.notify();
    go_signal.notify();  // idempotent
    done.wait();
    CHECK(go_signal.has_been_notified());
    go_signal.wait();  // after the fact: returns at once
  });
  CHECK(released.load() == 100);
}

TEST_CASE("timed waits time out, and a wake-up beats a later deadline", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::Notification never;
    CHECK_FALSE(never.wait_until(parkway::now() - 1s));  // past deadline: at once
    auto start = parkway::now();
    CHECK_FALSE(never.wait_for(20ms));
    CHECK(parkway::now() - start >= 20ms);

    parkway::Notification soon;
    parkway::go([&] {
      parkway::sleep_for(5ms);
      soon.notify();
    });
    CHECK(soon.wait_for(10s));

    parkway::WaitGroup wg;
    wg.add(1);
    CHECK_FALSE(wg.wait_until(parkway::now() + 10ms));
    parkway::go([&] { wg.done(); });
    CHECK(wg.wait_until(parkway::now() + 10s));

    // Many goroutines timing out at once while others get woken: each gets one answer.
    parkway::Notification n;
    std::atomic<int> woken{0}, timed_out{0};
    parkway::WaitGroup all;
    for (int i = 0; i < 200; i++) {
      all.add(1);
      parkway::go([&, i] {
        bool ok = n.wait_for(i % 2 ? 10s : std::chrono::microseconds(i * 10));
        (ok ? woken : timed_out)++;
        all.done();
      });
    }
    parkway::sleep_for(3ms);
    n.notify();
    all.wait();
    CHECK(woken.load() + timed_out.load() == 200);
    CHECK(woken.load() >= 100);  // every long waiter was woken
  });
}

TEST_CASE("Notification can be waited for by a plain thread", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  parkway::Notification from_goroutine;
  std::atomic<bool> thread_saw{false};
  std::thread t([&] {
    from_goroutine.wait();
    thread_saw = true;
  });
  rt.run([&] {
    parkway::sleep_for(2ms);
    from_goroutine.notify();
  });
  t.join();
  CHECK(thread_saw.load());
  parkway::Notification never;
  CHECK_FALSE(never.wait_for(5ms));  // outside any runtime: a thread wait with timeout
}

TEST_CASE("buffered Channel delivers every value once, many producers and consumers", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  constexpr int kProducers = 8, kConsumers = 8, kPerProducer = 20000;
  std::atomic<int64_t> sum{0}, count{0};
  rt.run([&] {
    parkway::Channel<int> ch(16);
    parkway::WaitGroup producers, consumers;
    for (int p = 0; p < kProducers; p++) {
      producers.add(1);
      parkway::go([&, p] {
        for (int i = 0; i < kPerProducer; i++) ch.send(p * kPerProducer + i);
        producers.done();
      });
    }
    for (int c = 0; c < kConsumers; c++) {
      consumers.add(1);
      parkway::go([&] {
        while (auto v = ch.recv()) {
          sum += *v;
          count++;
        }
        consumers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
  });
  const int64_t n = int64_t{kProducers} * kPerProducer;
  CHECK(count.load() == n);
  CHECK(sum.load() == n * (n - 1) / 2);
}

TEST_CASE("unbuffered Channel is a rendezvous and preserves order", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::Channel<std::string> ch;
    CHECK(ch.capacity() == 0);
    std::string s = "x";
    CHECK_FALSE(ch.try_send(s));  // no receiver waiting
    CHECK(s == "x");
    parkway::go([&] {
      for (int i = 0; i < 1000; i++) ch.send(std::to_string(i));
      ch.close();
    });
    int expect = 0;
    while (auto v = ch.recv()) {
      CHECK(*v == std::to_string(expect));
      expect++;
    }
    CHECK(expect == 1000);
    CHECK(ch.closed());
    CHECK_FALSE(ch.send("late"));  // closed: dropped
    CHECK_FALSE(ch.try_recv().has_value());
  });
}

TEST_CASE("close wakes blocked senders and receivers", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  rt.run([] {
    parkway::Channel<int> full(1), empty(1);
    full.send(1);
    std::atomic<int> send_failed{0}, recv_nullopt{0};
    parkway::WaitGroup wg;
    for (int i = 0; i < 10; i++) {
      wg.add(2);
      parkway::go([&] {
        if (!full.send(2)) send_failed++;
        wg.done();
      });
      parkway::go([&] {
        if (!empty.recv()) recv_nullopt++;
        wg.done();
      });
    }
    parkway::sleep_for(5ms);
    full.close();
    empty.close();
    wg.wait();
    CHECK(send_failed.load() == 10);
    CHECK(recv_nullopt.load() == 10);
    CHECK(full.recv() == 1);  // what was buffered is still delivered
    CHECK_FALSE(full.recv().has_value());
  });
}

TEST_CASE("Channel connects a plain thread and goroutines", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  parkway::Channel<int> to_runtime(4), from_runtime;
  std::thread producer([&] {
    for (int i = 1; i <= 1000; i++) to_runtime.send(i);
    to_runtime.close();
  });
  int64_t thread_sum = 0;
  std::thread consumer([&] {
    while (auto v = from_runtime.recv()) thread_sum += *v;
  });
  rt.run([&] {
    while (auto v = to_runtime.recv()) from_runtime.send(*v * 2);
    from_runtime.close();
  });
  producer.join();
  consumer.join();
  CHECK(thread_sum == 1000 * 1001);
}

PARKWAY_CHILD_SCENARIO("close_twice") {
  parkway::Channel<int> ch;
  ch.close();
  ch.close();
  return 0;
}

PARKWAY_CHILD_SCENARIO("negative_waitgroup") {
  parkway::WaitGroup wg;
  wg.done();
  return 0;
}

TEST_CASE("misuse of sync primitives is a fatal error with a clear message", "[sync]") {
  auto r = parkway::test::run_child("close_twice");
  CHECK(r.term_signal == SIGABRT);
  CHECK_THAT(r.stderr_text, Catch::Contains("close of a closed parkway::Channel"));
  r = parkway::test::run_child("negative_waitgroup");
  CHECK(r.term_signal == SIGABRT);
  CHECK_THAT(r.stderr_text, Catch::Contains("negative parkway::WaitGroup counter"));
}

TEST_CASE("Semaphore bounds concurrency and hands units to waiters in order", "[sync]") {
  parkway::Runtime rt({.procs = 2});
  std::atomic<int> inside{0}, max_inside{0};
  rt.run([&] {
    parkway::Semaphore sem(3);
    parkway::WaitGroup wg;
    for (int i = 0; i < 50; i++) {
      wg.add(1);
      parkway::go([&] {
        sem.acquire();
        int now_inside = ++inside;
        int prev = max_inside.load();
        while (now_inside > prev && !max_inside.compare_exchange_weak(prev, now_inside)) {
        }
        parkway::sleep_for(std::chrono::microseconds(200));
        --inside;
        sem.release();
        wg.done();
      });
    }
    wg.wait();
    CHECK(sem.available() == 3);
    CHECK(sem.try_acquire());
    CHECK(sem.available() == 2);
    sem.release();
    parkway::Semaphore empty(0);
    CHECK_FALSE(empty.try_acquire());
    CHECK_FALSE(empty.acquire_until(parkway::now() + 5ms));
    parkway::go([&] { empty.release(); });
    CHECK(empty.acquire_until(parkway::now() + 10s));
  });
  CHECK(max_inside.load() == 3);
}
