// Per-source limits: the bucket, the table and its eviction rule are in source_limits.h.
#include "proxy/source_limits.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "scheduler/check.h"
#include "scheduler/lock.h"
#include "scheduler/thread_annotations.h"

namespace parkway::proxy {
namespace {

constexpr std::size_t kMaxShardBits = 6;  // 64 shards
constexpr std::size_t kInitialSlots = 16;
constexpr Time kNoRate = Time::min();  // the tat of an entry without a rate

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The 128-bit key of an address: IPv6 as is, IPv4 (and IPv4-mapped) as ::ffff:a.b.c.d, so
// both spellings of an IPv4 client are one source.
void key_of(const conf::IpAddress& address, std::uint64_t* hi, std::uint64_t* lo) {
  const conf::IpAddress a = address.unmapped();
  std::uint8_t b[16] = {};
  if (a.family == conf::AddressFamily::ipv4) {
    b[10] = 0xff;
    b[11] = 0xff;
    std::memcpy(b + 12, a.bytes.data(), 4);
  } else {
    std::memcpy(b, a.bytes.data(), 16);
  }
  *hi = 0;
  *lo = 0;
  for (int i = 0; i < 8; ++i) *hi = (*hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) *lo = (*lo << 8) | b[i];
}

std::size_t floor_pow2_bits(std::size_t v) {
  std::size_t bits = 0;
  while ((std::size_t{2} << bits) <= v) ++bits;
  return bits;
}

std::size_t ceil_pow2(std::size_t v) {
  std::size_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

struct SourceLimits::Shard {
  struct Slot {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    Time tat{};               // the bucket's theoretical arrival time; kNoRate without one
    std::uint32_t count = 0;  // open connections
    bool used = false;
  };
  static_assert(sizeof(Slot) == 32, "source_limits: a slot should stay 32 bytes");

  alignas(64) mutable sched::RuntimeLock lock;
  // Open addressing with linear probing; empty until first used, a power of two in size,
  // at most half full.
  std::vector<Slot> slots PW_GUARDED_BY(lock);
  std::size_t size PW_GUARDED_BY(lock) = 0;

  std::size_t mask() const PW_REQUIRES(lock) { return slots.size() - 1; }

  // The slot holding the key, or slots.size().
  std::size_t find(std::uint64_t h, std::uint64_t hi, std::uint64_t lo) const PW_REQUIRES(lock) {
    if (slots.empty()) return 0;
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots[i];
      if (!s.used) return slots.size();
      if (s.hi == hi && s.lo == lo) return i;
    }
  }

  // Inserts a key known to be absent; the caller made room. Returns its slot.
  template <class Hash>
  std::size_t insert(std::uint64_t h, std::uint64_t hi, std::uint64_t lo, Time tat,
                     std::size_t capacity, Hash hash) PW_REQUIRES(lock) {
    if (2 * (size + 1) > slots.size()) grow(capacity, hash);
    std::size_t i = h & mask();
    while (slots[i].used) i = (i + 1) & mask();
    slots[i] = Slot{hi, lo, tat, 0, true};
    ++size;
    return i;
  }

  template <class Hash>
  void grow(std::size_t capacity, Hash hash) PW_REQUIRES(lock) {
    const std::size_t target =
        std::min(std::max(kInitialSlots, slots.size() * 2), ceil_pow2(2 * capacity));
    PW_CHECK(target > slots.size(), "source_limits: a shard grows past its capacity");
    std::vector<Slot> old(target);
    old.swap(slots);
    for (const Slot& s : old) {
      if (!s.used) continue;
      std::size_t i = hash(s.hi, s.lo) & mask();
      while (slots[i].used) i = (i + 1) & mask();
      slots[i] = s;
    }
  }

  // Empties slot i, moving later entries of its probe run back (backward-shift deletion),
  // so that lookups never need tombstones.
  template <class Hash>
  void erase(std::size_t i, Hash hash) PW_REQUIRES(lock) {
    std::size_t j = i;
    while (true) {
      j = (j + 1) & mask();
      if (!slots[j].used) break;
      const std::size_t home = hash(slots[j].hi, slots[j].lo) & mask();
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots[i] = slots[j];
      i = j;
    }
    slots[i] = Slot{};
    --size;
  }
};

std::string_view to_string(SourceAdmission admission) {
  switch (admission) {
    case SourceAdmission::admitted: return "admitted";
    case SourceAdmission::too_many_connections: return "too_many_connections";
    case SourceAdmission::rate_limited: return "rate_limited";
  }
  return "unknown";
}

conf::IpAddress source_ip(const net::SocketAddress& address) {
  if (address.family() == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address.sockaddr_ptr(), sizeof sin6);
    return conf::IpAddress::v6(sin6.sin6_addr.s6_addr);
  }
  conf::IpAddress ip;  // 0.0.0.0 for anything that is not IPv4 either
  if (address.family() == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, address.sockaddr_ptr(), sizeof sin);
    std::memcpy(ip.bytes.data(), &sin.sin_addr.s_addr, 4);
  }
  return ip;
}

// ---- SourceLease --------------------------------------------------------------------------

SourceLease::SourceLease(SourceLease&& other) noexcept
    : limits_(other.limits_),
      key_hi_(other.key_hi_),
      key_lo_(other.key_lo_),
      admission_(other.admission_) {
  other.limits_ = nullptr;
}

SourceLease& SourceLease::operator=(SourceLease&& other) noexcept {
  if (this != &other) {
    release(now());
    limits_ = other.limits_;
    key_hi_ = other.key_hi_;
    key_lo_ = other.key_lo_;
    admission_ = other.admission_;
    other.limits_ = nullptr;
  }
  return *this;
}

SourceLease::~SourceLease() { release(now()); }

void SourceLease::release(Time t) {
  if (limits_ == nullptr) return;
  SourceLimits* limits = limits_;
  limits_ = nullptr;
  limits->release(key_hi_, key_lo_, t);
}

// ---- SourceLimits -------------------------------------------------------------------------

SourceLimits::SourceLimits(const SourceLimitsConfig& config)
    : max_connections_(std::max(0, config.max_connections_per_source)),
      interval_(config.rate ? Duration(config.rate->interval()) : Duration::zero()),
      tolerance_(config.rate ? (static_cast<std::int64_t>(config.rate->count) - 1) * interval_
                             : Duration::zero()),
      seed_(config.hash_seed != 0
                ? config.hash_seed
                : (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}()) {
  const std::size_t max_sources = std::max<std::size_t>(1, config.max_sources);
  // 64 entries per shard at least, so that small tables are not split into tiny shards.
  shard_bits_ =
      std::min(kMaxShardBits, floor_pow2_bits(std::max<std::size_t>(1, max_sources / 64)));
  const std::size_t shards = std::size_t{1} << shard_bits_;
  shard_capacity_ = (max_sources + shards - 1) / shards;
  shards_ = std::make_unique<Shard[]>(shards);
}

SourceLimits::~SourceLimits() = default;

std::uint64_t SourceLimits::hash(std::uint64_t hi, std::uint64_t lo) const {
  return mix(lo ^ mix(hi ^ seed_));
}

SourceLimits::Shard& SourceLimits::shard_of(std::uint64_t h) const {
  // The high bits pick the shard, the low bits the slot within it.
  return shards_[shard_bits_ == 0 ? 0 : h >> (64 - shard_bits_)];
}

SourceLease SourceLimits::admit(const conf::IpAddress& source, Time now) {
  SourceLease lease;
  if (!enabled()) return lease;
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  key_of(source, &hi, &lo);
  const std::uint64_t h = hash(hi, lo);
  const auto rehash = [this](std::uint64_t a, std::uint64_t b) { return hash(a, b); };
  const Time t = now;
  Shard& shard = shard_of(h);

  sched::LockGuard guard(shard.lock);
  std::size_t i = shard.find(h, hi, lo);
  if (i == shard.slots.size()) {
    if (shard.size >= shard_capacity_) {
      // Make room: drop every idle entry (no connection, full bucket).
      for (std::size_t j = 0; j < shard.slots.size();) {
        const Shard::Slot& s = shard.slots[j];
        if (s.used && s.count == 0 && s.tat <= t) {
          shard.erase(j, rehash);  // re-examine j: a later entry may have moved into it
        } else {
          ++j;
        }
      }
      // None: evict the resting entry closest to a full bucket.
      if (shard.size >= shard_capacity_) {
        std::size_t victim = shard.slots.size();
        for (std::size_t j = 0; j < shard.slots.size(); ++j) {
          const Shard::Slot& s = shard.slots[j];
          if (s.used && s.count == 0 &&
              (victim == shard.slots.size() || s.tat < shard.slots[victim].tat)) {
            victim = j;
          }
        }
        if (victim == shard.slots.size()) {
          untracked_.fetch_add(1, std::memory_order_relaxed);
          return lease;  // every entry is active: admitted, untracked
        }
        shard.erase(victim, rehash);
        evicted_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    i = shard.insert(h, hi, lo, interval_ > Duration::zero() ? t : kNoRate, shard_capacity_,
                     rehash);
  }

  Shard::Slot& s = shard.slots[i];
  if (max_connections_ > 0 && s.count >= static_cast<std::uint32_t>(max_connections_)) {
    lease.admission_ = SourceAdmission::too_many_connections;
    return lease;
  }
  if (interval_ > Duration::zero()) {
    const Time tat = std::max(s.tat, t);
    if (tat - t > tolerance_) {
      lease.admission_ = SourceAdmission::rate_limited;
      return lease;
    }
    s.tat = tat + interval_;
  }
  ++s.count;
  lease.limits_ = this;
  lease.key_hi_ = hi;
  lease.key_lo_ = lo;
  return lease;
}

void SourceLimits::release(std::uint64_t hi, std::uint64_t lo, Time now) {
  const std::uint64_t h = hash(hi, lo);
  const Time t = now;
  Shard& shard = shard_of(h);
  sched::LockGuard guard(shard.lock);
  const std::size_t i = shard.find(h, hi, lo);
  // Entries with open connections are never evicted, so a lease always finds its own.
  PW_CHECK(i < shard.slots.size() && shard.slots[i].count > 0,
           "source_limits: release of a source that holds no connection");
  Shard::Slot& s = shard.slots[i];
  --s.count;
  if (s.count == 0 && s.tat <= t) {
    shard.erase(i, [this](std::uint64_t a, std::uint64_t b) { return hash(a, b); });
  }
}

SourceLimits::Stats SourceLimits::stats() const {
  Stats s;
  s.evicted = evicted_.load(std::memory_order_relaxed);
  s.untracked = untracked_.load(std::memory_order_relaxed);
  return s;
}

std::size_t SourceLimits::tracked_sources() const {
  std::size_t total = 0;
  for (std::size_t k = 0; k < (std::size_t{1} << shard_bits_); ++k) {
    sched::LockGuard guard(shards_[k].lock);
    total += shards_[k].size;
  }
  return total;
}

int SourceLimits::connections(const conf::IpAddress& source) const {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  key_of(source, &hi, &lo);
  const std::uint64_t h = hash(hi, lo);
  Shard& shard = shard_of(h);
  sched::LockGuard guard(shard.lock);
  const std::size_t i = shard.find(h, hi, lo);
  return i < shard.slots.size() ? static_cast<int>(shard.slots[i].count) : 0;
}

}  // namespace parkway::proxy
