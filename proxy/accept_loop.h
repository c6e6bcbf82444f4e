// The accept loop of every listening socket parkway has, the data listeners' and the
// admin endpoint's alike: one goroutine accepts and starts a goroutine per connection.
//
//   limit     At `limit` open connections it stops accepting until one closes, and new
//             clients wait in the kernel's backlog meanwhile: it never accepts a
//             connection only to close it (ConnectionLimit below; the limit may change
//             while it runs, as a reload does).
//   shortage  Out of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it
//             backs off (proxy/backoff.h: 5 ms doubling to 1 s, logged at most once a
//             second) instead of spinning on accept.
//   reserve   Optionally it keeps one descriptor in reserve (the admin endpoint does, so
//             that its metrics can be read when the process is out of descriptors, which
//             is when they matter most): when accept fails for lack of a descriptor while
//             a client is waiting, it gives up the reserve and accepts into that slot;
//             the reserve is taken back when that connection is done. Best effort: another
//             listener may take the freed slot first.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "netpoll/socket.h"
#include "proxy/stats.h"
#include "scheduler/lock.h"
#include "scheduler/sync.h"

namespace parkway::proxy {

// At most `limit` units taken at once; acquire() parks while none is free. The limit may
// be changed at any time: raising it frees units at once, lowering it takes effect as
// units come back (none is taken from a holder).
class ConnectionLimit {
 public:
  explicit ConnectionLimit(int64_t limit) : limit_(limit), free_(limit) {}

  bool try_acquire();
  void acquire();
  // Returns whether a unit was taken before `deadline`.
  bool acquire_until(Time deadline);
  void release();
  void set_limit(int64_t limit);
  // Wakes a goroutine parked in acquire() (stop: it re-checks why it was woken).
  void interrupt() { free_.release(); }

 private:
  sched::SpinLock lock_;
  int64_t limit_ PW_GUARDED_BY(lock_);
  int64_t owed_ PW_GUARDED_BY(lock_) = 0;  // units to keep when they come back (lowered)
  Semaphore free_;
};

// What an accepted connection becomes: made on the accepting goroutine (so that it sees
// the listener's settings of the moment it was accepted), then served on a goroutine of
// its own. Its slot is free again once serve() has returned and it is destroyed.
class Accepted {
 public:
  virtual ~Accepted() = default;
  virtual void serve() = 0;
};

class AcceptLoop : public std::enable_shared_from_this<AcceptLoop> {
 public:
  using Make =
      std::function<std::unique_ptr<Accepted>(net::Conn conn, const net::SocketAddress& peer)>;

  struct Options {
    std::string name;  // how logs name it: "listener \"app\"", "admin"
    int64_t limit = 1;
    bool keep_reserve = false;  // keep a descriptor in reserve (see above)
    // Counts every connection from accept until its Accepted is destroyed (a drain waits
    // on it); optional.
    WaitGroup* tracked = nullptr;
    // The process's connection slots (proxy/descriptor_budget.h), taken before each
    // accept after the loop's own; optional.
    ConnectionLimit* budget = nullptr;
  };

  AcceptLoop(net::Listener socket, Options options, Make make);
  ~AcceptLoop();

  // Starts the accepting goroutine. Call once.
  void start();
  // Stops accepting and closes the socket; waits for the accepting goroutine, not for the
  // connections it started.
  void stop();
  void set_limit(int64_t limit) { limit_.set_limit(limit); }
  // The new name for logs, after a reload renamed the listener.
  void rename(std::string name);

  // Connections accepted and not yet done.
  int64_t active() const { return active_.load(std::memory_order_relaxed); }
  net::Listener& socket() { return socket_; }
  ListenerCounters counters;

 private:
  void run();
  std::string name() const;
  void take_reserve();
  bool give_up_reserve();

  net::Listener socket_;
  const bool keep_reserve_;
  WaitGroup* const tracked_;
  ConnectionLimit* const budget_;
  const Make make_;
  ConnectionLimit limit_;
  std::atomic<int64_t> active_{0};
  mutable sched::SpinLock name_lock_;
  std::string name_ PW_GUARDED_BY(name_lock_);
  std::atomic<bool> stopping_{false};
  std::atomic<int> reserve_{-1};  // the reserve descriptor, or -1 (in use, or not to be had)
  Notification stopped_;
  bool started_ = false;
};

}  // namespace parkway::proxy
