// Per-source limits of a listener: how many connections one client address may have open
// (max_connections_per_source) and how fast it may open new ones (connection_rate_per_source,
// a token bucket such as "100/s"), over a table of sources bounded in memory.
//
// Admission. admit(source, now) answers, and on `admitted` holds a lease that the
// connection gives back when it ends (release, or the lease's destructor):
//   too_many_connections  the source already has max_connections_per_source open;
//   rate_limited          its bucket is empty;
//   admitted              otherwise; it takes one token and counts one connection.
// A refused attempt takes no token, so a source that keeps trying is admitted at exactly
// its rate. Sources are compared in IPv4 form when IPv4-mapped (conf/cidr.h).
//
// The bucket: a rate "N/unit" holds N tokens and regains one every unit/N, continuously
// (so "10/m" admits a burst of 10, then one every 6 s). It is kept as one number, the
// generic cell rate algorithm's "theoretical arrival time" (TAT): the bucket is full when
// TAT <= now, and a connection is admitted when TAT - now <= (N - 1) * unit/N, moving TAT
// to max(TAT, now) + unit/N. Time is whatever `now` the caller passes (parkway::Time), so
// tests are deterministic.
//
// The table: sharded by a seeded hash of the address (64 shards for the default size,
// fewer for small tables), each shard an open-addressing table under its own RuntimeLock,
// held for a lookup and a few arithmetic operations, never across a park. Memory is
// bounded: at most max_sources entries (rounded up to a multiple of the shard count) of
// 32 bytes, in slot arrays that grow on demand to twice that. An entry is
//   active  it has open connections (count > 0): never evicted;
//   resting no open connection, but its bucket is not full yet: it remembers the rate;
//   idle    no open connection and a full bucket: it remembers nothing, and is dropped at
//           once when its last connection ends, or when room is needed.
// Eviction, when a new source finds its shard full: drop every idle entry of the shard;
// if there was none, evict the resting entry whose bucket is closest to full (the one
// whose forgetting gives a source the fewest extra tokens), counted in stats().evicted;
// if every entry is active, the new source is admitted without being tracked (no limit
// applies to that connection), counted in stats().untracked. Failing open there is
// deliberate: per-source limits cannot stop a client that has that many addresses, a
// listener's max_connections still bounds the total, and refusing would let such a
// client lock every new source out. Entries with open connections are at most the
// listener's max_connections, so a table with max_sources >= max_connections never gets
// there. Making room scans one shard (at most 2 * max_sources / shards slots, 2048 with
// the defaults): a bounded few microseconds, only when a shard is full.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "conf/cidr.h"
#include "conf/rate.h"
#include "netpoll/address.h"
#include "scheduler/time.h"

namespace parkway::proxy {

struct SourceLimitsConfig {
  int max_connections_per_source = 0;  // 0: no limit
  std::optional<conf::Rate> rate;      // connection_rate_per_source; none: no limit
  std::size_t max_sources = 65536;     // sources tracked at most (>= 1)
  std::uint64_t hash_seed = 0;         // 0: a random seed
};

enum class SourceAdmission : std::uint8_t { admitted, too_many_connections, rate_limited };
// "admitted", "too_many_connections", "rate_limited": the refusals are counter labels.
std::string_view to_string(SourceAdmission admission);

// A client address as source rules and limits see it (conf has no sockets). Precondition:
// an IPv4 or IPv6 address; anything else (empty, a Unix socket) reads as 0.0.0.0.
conf::IpAddress source_ip(const net::SocketAddress& address);

class SourceLimits;

// An admission: what admit() answered and, for a tracked admitted connection, the right to
// one of the source's connection slots until release(). Move-only. The SourceLimits must
// outlive its leases.
class SourceLease {
 public:
  SourceLease() = default;
  SourceLease(SourceLease&& other) noexcept;
  SourceLease& operator=(SourceLease&& other) noexcept;
  SourceLease(const SourceLease&) = delete;
  SourceLease& operator=(const SourceLease&) = delete;
  // Releases at parkway::now() if not released yet.
  ~SourceLease();

  SourceAdmission admission() const { return admission_; }
  bool admitted() const { return admission_ == SourceAdmission::admitted; }
  // Whether the connection counts against its source (false when the table was full of
  // active sources, or when no limit is configured).
  bool tracked() const { return limits_ != nullptr; }
  // The connection ended; idempotent.
  void release(Time now);

 private:
  friend class SourceLimits;
  SourceLimits* limits_ = nullptr;  // set while a tracked connection is held
  std::uint64_t key_hi_ = 0;
  std::uint64_t key_lo_ = 0;
  SourceAdmission admission_ = SourceAdmission::admitted;
};

class SourceLimits {
 public:
  explicit SourceLimits(const SourceLimitsConfig& config);
  ~SourceLimits();
  SourceLimits(const SourceLimits&) = delete;
  SourceLimits& operator=(const SourceLimits&) = delete;

  // Whether any limit is configured; without one, admit() admits everyone, untracked.
  bool enabled() const { return max_connections_ > 0 || interval_ > Duration::zero(); }

  SourceLease admit(const conf::IpAddress& source, Time now);

  struct Stats {
    std::uint64_t evicted = 0;    // resting entries dropped to make room
    std::uint64_t untracked = 0;  // admitted without tracking: the shard was all active
  };
  Stats stats() const;
  // Entries in the table now (active, resting and not yet dropped idle ones).
  std::size_t tracked_sources() const;
  // Open connections the table counts for `source`; for tests and introspection.
  int connections(const conf::IpAddress& source) const;

  struct Shard;

 private:
  friend class SourceLease;
  void release(std::uint64_t hi, std::uint64_t lo, Time now);
  Shard& shard_of(std::uint64_t hash) const;
  std::uint64_t hash(std::uint64_t hi, std::uint64_t lo) const;

  const int max_connections_;
  const Duration interval_;   // unit / N; zero without a rate
  const Duration tolerance_;  // (N - 1) * interval: how far TAT may run ahead of now
  const std::uint64_t seed_;
  std::size_t shard_bits_ = 0;
  std::size_t shard_capacity_ = 0;  // entries per shard at most
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::uint64_t> evicted_{0};
  std::atomic<std::uint64_t> untracked_{0};
};

}  // namespace parkway::proxy
