// FD lifetime: close wakes parked operations, the descriptor number outlives every
// operation using it, stale epoll events are dropped, and EMFILE is reported, not spun on.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "netpoll/netpoll.h"
#include "scheduler/runtime.h"
#include "scheduler/sync.h"
#include "tests/netpoll/helpers.h"
#include "tests/support/child.h"
#include "tests/support/go_check.h"

using namespace std::chrono_literals;
using namespace parkway;

namespace {

using test::connect_pair;
using test::Pair;

bool fd_is_open(int n) { return fcntl(n, F_GETFD) != -1; }

// A poller paused inside NetPoller::dispatch, after the sequence check and before the
// event is applied (NetPoller::set_dispatch_hook_for_test): the test's own poller thread
// only (the runtime's pollers pass through), for events on `target` only.
thread_local bool is_test_poller = false;
struct PausedDispatch {
  std::atomic<net::PollDesc*> target{nullptr};
  std::atomic<bool> paused{false};
  std::atomic<bool> resume{false};
};
std::atomic<PausedDispatch*> paused_dispatch{nullptr};

void pause_in_dispatch(net::PollDesc* pd) {
  PausedDispatch* p = paused_dispatch.load();
  if (!is_test_poller || p == nullptr || pd != p->target.load()) return;
  p->paused.store(true);
  const Time until = deadline_after(10s);
  while (!p->resume.load() && now() < until) std::this_thread::yield();
}

// Waits (bounded) for `cond`, yielding the goroutine meanwhile.
template <class F>
bool await(F cond, Duration limit = 10s) {
  const Time until = deadline_after(limit);
  while (!cond()) {
    if (now() > until) return false;
    yield();
  }
  return true;
}

}  // namespace

TEST_CASE("close wakes a goroutine parked in read with 'closed'", "[fd]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair p = connect_pair(ln);
    Notification done;
    std::error_code err;
    go([&] {
      std::byte buf[64];
      err = p.server.read(buf).error;
      done.notify();
    });
    // Wait until it is really parked: the poller counts it.
    auto deadline = now() + 10s;
    while (!net::NetPoller::get().has_waiters() && now() < deadline) yield();
    REQUIRE(net::NetPoller::get().has_waiters());
    CHECK_FALSE(p.server.close());
    REQUIRE(done.wait_for(10s));
    CHECK(net::is_closed(err));
    CHECK_FALSE(net::NetPoller::get().has_waiters());
  });
}

TEST_CASE("the descriptor number is released only after the last operation returns", "[fd]") {
  Runtime rt({.procs = 2});
  rt.run([] {
    net::Listener ln = test::listen_local();
    Pair p = connect_pair(ln);
    net::FD& fd = p.server.fd();
    int number = -1;
    Notification inside, release, closed;
    bool open_during_op = false;
    go([&] {
      // An operation in progress: holds a reference while it is parked.
      fd.with_fd([&](int n) {
        number = n;
        inside.notify();
        release.wait();
        open_during_op = fd_is_open(n);
        return 0;
      });
    });
    inside.wait();
    go([&] {
      p.server.close();  // returns only once the descriptor is really closed
      closed.notify();
    });
    // close() has begun: new operations fail, yet the number stays ours and new sockets
    // get other numbers.
    auto deadline = now() + 10s;
    while (!fd.closed() && now() < deadline) yield();
    REQUIRE(fd.closed());
    CHECK(fd_is_open(number));
    std::vector<int> fresh;
    for (int i = 0; i < 8; i++) fresh.push_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    for (int f : fresh) CHECK(f != number);
    CHECK_FALSE(closed.has_been_notified());
    release.notify();
    REQUIRE(closed.wait_for(10s));
    CHECK(open_during_op);
    CHECK_FALSE(fd_is_open(number));
    for (int f : fresh) close(f);
  });
}

TEST_CASE("a stale epoll event for a closed and reused PollDesc is ignored", "[fd]") {
  Runtime rt({.procs = 1});
  test::GoChecks checks;
  rt.run([&] {
    // Remember the event data of a first connection's registration, then close it.
    net::Listener ln = test::listen_local();
    Pair first = connect_pair(ln);
    net::PollDesc* pd = first.server.fd().poll_desc();
    const uint64_t stale = net::NetPoller::event_data(pd);
    first.server.close();
    // Open connections until one reuses that PollDesc (the free list is LIFO: at once).
    std::vector<Pair> pairs;
    net::Conn* reused = nullptr;
    for (int i = 0; i < 64 && !reused; i++) {
      pairs.push_back(connect_pair(ln));
      for (auto* c : {&pairs.back().client, &pairs.back().server}) {
        if (c->fd().poll_desc() == pd) reused = c;
      }
    }
    REQUIRE(reused != nullptr);
    REQUIRE(net::NetPoller::event_data(pd) != stale);
    // Park a reader on it.
    Notification got;
    go([&] {
      std::byte buf[1];
      auto r = reused->read(buf);
      GO_CHECK(checks, r.ok() && r.bytes == 1);
      got.notify();
    });
    while (pd->rg.load() <= net::pdWait) yield();
    // Replay a readiness event with the old registration's data: dropped.
    sched::GList woken;
    net::NetPoller::get().dispatch(stale, EPOLLIN, &woken);
    CHECK(woken.empty());
    CHECK(pd->rg.load() > net::pdWait);  // still parked
    // The same event with the current data wakes it.
    net::NetPoller::get().dispatch(net::NetPoller::event_data(pd), EPOLLIN, &woken);
    REQUIRE(woken.size() == 1);
    sched::ready(woken.pop());
    // Woken spuriously (no data yet): it parks again, and real data completes the read.
    Pair* peer = nullptr;
    for (auto& pr : pairs) {
      if (&pr.client == reused || &pr.server == reused) peer = &pr;
    }
    net::Conn& other = (&peer->client == reused) ? peer->server : peer->client;
    other.write_all(std::as_bytes(std::span("z", 1)));
    REQUIRE(got.wait_for(10s));
  });
  checks.report();
}

TEST_CASE("a stale EPOLLERR never marks the connection that reuses its PollDesc", "[fd]") {
  // The race: the poller takes an EPOLLERR for connection A and passes the sequence check;
  // another thread closes A, and the next connection B gets A's PollDesc from the free list;
  // then the poller applies the error. B must not inherit it: its reads would fail as "not
  // pollable". The hook pauses a poller thread exactly between the check and the update.
  Runtime rt({.procs = 2});
  rt.run([&] {
    net::Listener ln = test::listen_local();
    Pair first = connect_pair(ln);
    net::PollDesc* pd = first.server.fd().poll_desc();
    const uint64_t stale = net::NetPoller::event_data(pd);
    PausedDispatch pause;
    pause.target.store(pd);
    paused_dispatch.store(&pause);
    net::NetPoller::set_dispatch_hook_for_test(&pause_in_dispatch);
    sched::GList woken;  // written by the poller thread only, read after join
    std::thread poller([&] {
      is_test_poller = true;
      net::NetPoller::get().dispatch(stale, EPOLLERR, &woken);
    });
    REQUIRE(await([&] { return pause.paused.load(); }));

    // While it is paused: close A, open connections until one reuses the PollDesc.
    first.server.close();
    std::vector<Pair> pairs;
    pairs.reserve(64);
    net::Conn* reused = nullptr;
    net::Conn* peer = nullptr;
    for (int i = 0; i < 64 && !reused; i++) {
      pairs.push_back(connect_pair(ln));
      Pair& p = pairs.back();
      if (p.server.fd().poll_desc() == pd) reused = &p.server, peer = &p.client;
      if (p.client.fd().poll_desc() == pd) reused = &p.client, peer = &p.server;
    }
    pause.resume.store(true);
    poller.join();
    net::NetPoller::set_dispatch_hook_for_test(nullptr);
    paused_dispatch.store(nullptr);
    REQUIRE(reused != nullptr);
    CHECK(woken.empty());  // nobody was parked on B

    // B is unharmed: no error state, and a read gets its byte.
    CHECK_FALSE(pd->check_error(net::Mode::read));
    peer->write_all(std::as_bytes(std::span("b", 1)));
    std::byte buf[1];
    auto r = reused->read(buf);
    CHECK(r.error == std::error_code{});
    CHECK(r.bytes == 1);
  });
}

TEST_CASE("an event without EPOLLERR clears the event error (Go's setEventErr)", "[fd]") {
  Runtime rt({.procs = 1});
  rt.run([&] {
    net::Listener ln = test::listen_local();
    Pair p = connect_pair(ln);
    net::PollDesc* pd = p.server.fd().poll_desc();
    sched::GList woken;
    net::NetPoller::get().dispatch(net::NetPoller::event_data(pd), EPOLLERR, &woken);
    CHECK(pd->check_error(net::Mode::read) == net::Errc::not_pollable);
    std::byte buf[1];
    CHECK(p.server.read(buf).error == net::Errc::not_pollable);
    CHECK_FALSE(pd->check_error(net::Mode::write));  // reported on reads only

    net::NetPoller::get().dispatch(net::NetPoller::event_data(pd), EPOLLIN, &woken);
    CHECK_FALSE(pd->check_error(net::Mode::read));
    p.client.write_all(std::as_bytes(std::span("c", 1)));
    auto r = p.server.read(buf);
    CHECK(r.error == std::error_code{});
    CHECK(r.bytes == 1);
    CHECK(woken.empty());
  });
}

PARKWAY_CHILD_SCENARIO("accept_emfile") {
  Runtime rt({.procs = 2});
  return rt.run([]() -> int {
    net::Listener ln = test::listen_local();
    auto client = net::Conn::dial(test::address_of(ln));  // queued, not yet accepted
    if (!client) return 10;
    // Use up every descriptor the limit allows.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return 11;
    std::vector<int> hogs;
    for (int f; (f = dup(0)) >= 0;) hogs.push_back(f);
    if (errno != EMFILE) return 12;
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    auto start = now();
    // accept4 fails with EMFILE: the error comes back at once, distinct, every time.
    // (Compared by category address and value: with no descriptor left UBSan cannot
    // check the vptr on a member call of error_category, which needs a pipe.)
    for (int i = 0; i < 100; i++) {
      auto c = ln.accept();
      if (c) return 13;
      const std::error_code ec = c.error();
      if (&ec.category() != &std::system_category() || ec.value() != EMFILE) return 14;
    }
    if (now() - start > 5s) return 16;
    getrusage(RUSAGE_SELF, &after);
    auto cpu_us = [](const rusage& r) {
      return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec +
             r.ru_stime.tv_usec;
    };
    if (cpu_us(after) - cpu_us(before) > 2'000'000) return 17;  // 100 failed accepts: cheap
    // Free one descriptor: the queued connection is accepted.
    close(hogs.back());
    hogs.pop_back();
    auto c = ln.accept();
    if (!c) return 18;
    for (int f : hogs) close(f);
    return 0;
  });
}

TEST_CASE("resource errors are told apart from the others", "[fd]") {
  for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM})
    CHECK(net::is_resource_exhausted(net::errno_code(e)));
  for (int e : {ECONNREFUSED, ECONNRESET, EAGAIN, EINVAL}) {
    CHECK_FALSE(net::is_resource_exhausted(net::errno_code(e)));
  }
  CHECK(net::is_refused(net::errno_code(ECONNREFUSED)));
  CHECK(net::is_reset(net::errno_code(ECONNRESET)));
  CHECK(net::is_reset(net::errno_code(EPIPE)));
  CHECK(net::is_unreachable(net::errno_code(EHOSTUNREACH)));
  CHECK(net::is_timeout(net::Errc::timeout));
  CHECK(net::is_closed(net::Errc::closed));
  CHECK_FALSE(net::is_closed(net::Errc::timeout));
}

TEST_CASE("accept under EMFILE returns the distinct error at once and recovers", "[fd]") {
  auto r = test::run_child("accept_emfile");
  INFO(r.stderr_text);
  CHECK(r.exited);
  CHECK(r.exit_code == 0);
}
