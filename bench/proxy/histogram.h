// Histogram: a log-linear latency histogram in the manner of HdrHistogram, for the proxy
// load generators (bench/proxy/loadgen.cpp).
//
// Values are non-negative integers (nanoseconds here). Below 2^kBits they are counted
// exactly; above, each power of two [2^e, 2^(e+1)) is split into 2^(kBits-1) equal
// sub-buckets, so a recorded value is known to within 1/2^(kBits-1) of itself: with
// kBits = 8, 0.78 %. Values up to 2^kMaxExp ns (2^40 ns = 18 minutes) fit; larger ones
// are clamped into the last bucket (and the exact maximum is kept aside).
//
// A Histogram is not thread-safe: each goroutine records into its own and the owner
// merges them at the end (merge()), which costs nothing on the hot path.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace parkway::bench {

class Histogram {
 public:
  static constexpr int kBits = 8;
  static constexpr int kMaxExp = 40;
  static constexpr uint64_t kLinear = uint64_t{1} << kBits;     // exact values below this
  static constexpr uint64_t kSub = uint64_t{1} << (kBits - 1);  // sub-buckets per power of 2
  static constexpr size_t kBuckets = kLinear + (kMaxExp - kBits) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void record(int64_t v) {
    const uint64_t u = v < 0 ? 0 : static_cast<uint64_t>(v);
    max_ = std::max(max_, u);
    total_++;
    counts_[index(u)]++;
  }

  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }

  // The value below which a fraction q of the recorded values lie (q in [0, 1]): the
  // midpoint of the bucket holding the ceil(q * count)-th smallest value, never above
  // the exact maximum. 0 when empty.
  uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_) + 0.999999);
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; i++) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint(i), max_);
    }
    return max_;
  }

  static size_t index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    const int e = std::bit_width(v) - kBits;  // >= 1: shift that leaves kBits bits
    if (e > kMaxExp - kBits) return kBuckets - 1;
    return static_cast<size_t>(kLinear + (static_cast<uint64_t>(e) - 1) * kSub + ((v >> e) - kSub));
  }

  // Smallest value that falls in bucket i, and the bucket's width.
  static uint64_t lower(size_t i) {
    if (i < kLinear) return i;
    const uint64_t j = i - kLinear;
    const uint64_t e = j / kSub + 1;
    return (kSub + j % kSub) << e;
  }
  static uint64_t width(size_t i) {
    if (i < kLinear) return 1;
    return uint64_t{1} << ((i - kLinear) / kSub + 1);
  }
  static uint64_t midpoint(size_t i) { return lower(i) + width(i) / 2; }

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace parkway::bench
