// The health of one upstream address, and the active check that probes it.
//
// Every address an endpoint resolves to is a host of its own (a DNS name with three
// addresses is three hosts), and each host has a state:
//
//   unchecked  active checks are on and none has run yet: not trusted, never picked
//   healthy    picked by the balancer
//   failing    the active check says down (fall checks in a row failed): not picked
//   ejected    passive: consecutive_failures connects in a row failed; not picked until
//              `until` (base_ejection x the number of its ejections, at most
//              max_ejection); then healthy again, or, with active checks, once a check
//              passes
//   draining   removed by a reload or a DNS change while connections to it are open: not
//   (Host)     picked; it goes when they have
//
// Transitions (who makes them):
//
//   unchecked --first check passes------------------------> healthy      (checker)
//   healthy   --fall checks fail--------------------------> failing      (checker)
//   failing   --rise checks pass--------------------------> healthy      (checker)
//   healthy   --consecutive_failures failed connects------> ejected      (connections)
//   ejected   --until passed, no checks-------------------> healthy      (whoever looks)
//   ejected   --until passed, a check passes--------------> healthy      (checker)
//
// Each transition is logged at warn, one line with its reason ("connect refused 5 times
// in a row", "expect \"+PONG\" got \"-ERR\""), and counted. The balancer reads a host's
// state with one relaxed load and never waits for a checker; connections report their
// connect outcome with one call. A HostHealth is shared (shared_ptr) by every cluster
// state that has the address, so a reload or a DNS refresh keeps it for addresses that
// remain.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "conf/config.h"
#include "netpoll/address.h"
#include "scheduler/lock.h"
#include "scheduler/sync.h"
#include "scheduler/time.h"

namespace parkway::proxy {

#define PARKWAY_HEALTH_STATES(X) X(unchecked) X(healthy) X(failing) X(ejected) X(draining)

enum class HealthState : uint8_t {
#define PARKWAY_HEALTH_ENUM(name) name,
  PARKWAY_HEALTH_STATES(PARKWAY_HEALTH_ENUM)
#undef PARKWAY_HEALTH_ENUM
};
inline constexpr std::array<std::string_view, 5> kHealthStateNames = {
#define PARKWAY_HEALTH_NAME(name) #name,
    PARKWAY_HEALTH_STATES(PARKWAY_HEALTH_NAME)
#undef PARKWAY_HEALTH_NAME
};
inline constexpr size_t kHealthStateCount = kHealthStateNames.size();
inline std::string_view to_string(HealthState s) {
  return kHealthStateNames[static_cast<size_t>(s)];
}

class HostHealth {
 public:
  // `who` names the host in log lines: `cluster "app": 10.0.0.7:80 (endpoint app:80)`.
  HostHealth(std::string who, bool checked);

  HealthState state() const { return state_.load(std::memory_order_relaxed); }
  // Whether the balancer may pick it now. An ejection that has run out ends here when
  // there are no active checks (with them, the checker ends it).
  bool usable(Time now, bool checks_on);

  // Passive ejection, fed by the connections. A failure: a connect refused, timed out or
  // unreachable, or a reset from the upstream before it sent a byte. `cluster_may_eject`
  // says whether max_ejected_percent allows one more ejection.
  void connect_failed(std::string_view why, const conf::Outlier& outlier, bool cluster_may_eject);
  void connect_succeeded();

  // Active checks: the result of one check.
  void check_passed(const conf::HealthCheck& hc);
  void check_failed(std::string_view why, const conf::HealthCheck& hc);
  // Checks were turned off by a reload: a failing or unchecked host is trusted again.
  void checks_removed();

  // For /clusters and the metrics.
  struct Report {
    HealthState state;
    Time since;
    std::string why;
    Time ejected_until;
    uint64_t ejections;
    Time last_check;
    bool last_check_passed;
    std::string last_check_why;
  };
  Report report() const;
  std::atomic<uint64_t> checks_passed{0}, checks_failed{0}, ejections{0};
  std::atomic<int64_t> active{0};  // connections open or connecting to the address
  std::array<std::atomic<uint64_t>, kHealthStateCount> transitions{};  // by the state entered

 private:
  void move_to(HealthState next, std::string why, Time until = Time{}) PW_REQUIRES(lock_);

  const std::string who_;
  std::atomic<HealthState> state_;
  mutable sched::SpinLock lock_;
  Time since_ PW_GUARDED_BY(lock_);
  std::string why_ PW_GUARDED_BY(lock_);
  Time until_ PW_GUARDED_BY(lock_){};                 // ejected until
  std::atomic<Time> until_fast_{Time{}};              // the same, for usable()'s lock-free look
  uint64_t ejection_count_ PW_GUARDED_BY(lock_) = 0;  // for the next ejection's length
  Time last_ejection_end_ PW_GUARDED_BY(lock_){};
  int consecutive_failures_ PW_GUARDED_BY(lock_) = 0;
  std::atomic<bool> failing_fast_{false};          // consecutive_failures_ > 0, for the fast path
  bool same_failure_ PW_GUARDED_BY(lock_) = true;  // every failure in a row had one reason
  std::string last_failure_ PW_GUARDED_BY(lock_);
  int passes_ PW_GUARDED_BY(lock_) = 0;  // checks in a row, for rise and fall
  int fails_ PW_GUARDED_BY(lock_) = 0;
  Time last_check_ PW_GUARDED_BY(lock_){};
  bool last_check_passed_ PW_GUARDED_BY(lock_) = false;
  std::string last_check_why_ PW_GUARDED_BY(lock_);
};

// One active check of `address` by `hc`: a connect within the timeout and, if set, send,
// then read until the reply matches `expect` or cannot any more (4 KiB, end of stream, the
// timeout). Returns an empty string when it passed, else why it failed. Call from a
// goroutine.
std::string run_health_check(const net::SocketAddress& address, const conf::HealthCheck& hc);

// "PING\r\n" for a log line: printable ASCII as it is, the rest escaped, at most 64 bytes.
std::string printable_bytes(std::string_view bytes);

}  // namespace parkway::proxy
