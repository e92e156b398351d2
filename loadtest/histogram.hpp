#pragma once
// A latency histogram with a high dynamic range: 1 µs .. 60 s at under 1% relative error, in a
// fixed 20 KiB of counters (HdrHistogram's idea, written here: log-linear buckets). Values below
// 256 µs have a bucket each; above, every power of two is split into 128 equal buckets, so a
// bucket is at most 1/128 of its lower bound wide and its midpoint is within 0.4% of any value
// in it. Values over 60 s go to the last bucket; the exact min and max are kept aside.
//
// Thread-safety: none; one histogram per load thread, merged at the end with add().

#include <array>
#include <cstdint>

namespace sidelight::loadtest {

class histogram {
  public:
    static constexpr std::uint64_t highest_us = 60'000'000;

    void record(std::uint64_t us);
    void add(const histogram& other);

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
    // The value at `percentile` (0..100, to a hundredth): the midpoint of the bucket holding the
    // rank ceil(percentile/100 * count), never above max(); 0 when empty.
    std::uint64_t percentile(double percentile) const;

    // Exposed for the unit test of the bucket layout.
    static std::size_t index_of(std::uint64_t us);
    static std::uint64_t lower_bound(std::size_t index);
    static std::uint64_t width(std::size_t index);

  private:
    static constexpr unsigned linear_bits = 8;  // 256 single-µs buckets
    static constexpr unsigned sub_bits = 7;     // 128 buckets per power of two above them
    static constexpr std::size_t bucket_count = 256 + 18 * 128;  // up to 2^26 µs > 60 s

    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
};

}  // namespace sidelight::loadtest
