// The log-linear latency histogram (histogram.hpp): the bucket arithmetic and the rank walk.
#include "loadtest/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sidelight::loadtest {

std::size_t histogram::index_of(std::uint64_t us) {
    us = std::min(us, highest_us);
    if (us < (1u << linear_bits)) return static_cast<std::size_t>(us);
    // shift: how far `us` must move right to land in [128, 256).
    const unsigned shift = static_cast<unsigned>(std::bit_width(us)) - linear_bits;
    const std::uint64_t sub = (us >> shift) - (1u << sub_bits);
    return (1u << linear_bits) + (shift - 1) * (1u << sub_bits) + static_cast<std::size_t>(sub);
}

std::uint64_t histogram::lower_bound(std::size_t index) {
    if (index < (1u << linear_bits)) return index;
    const std::size_t above = index - (1u << linear_bits);
    const unsigned shift = static_cast<unsigned>(above >> sub_bits) + 1;
    const std::uint64_t sub = (above & ((1u << sub_bits) - 1)) + (1u << sub_bits);
    return sub << shift;
}

std::uint64_t histogram::width(std::size_t index) {
    if (index < (1u << linear_bits)) return 1;
    return std::uint64_t{1} << (((index - (1u << linear_bits)) >> sub_bits) + 1);
}

void histogram::record(std::uint64_t us) {
    ++counts_[index_of(us)];
    ++count_;
    sum_ += us;
    min_ = std::min(min_, us);
    max_ = std::max(max_, us);
}

void histogram::add(const histogram& other) {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

std::uint64_t histogram::percentile(double percentile) const {
    if (count_ == 0) return 0;
    // The rank in whole numbers: 99.9 / 100 * 1000 is 999.0000000000001 in doubles, and its
    // ceiling, 1000, would answer the maximum for p99.9. A percentile is taken to a hundredth of
    // a percent (99.9 is 9990 per ten thousand), which no caller goes below.
    const auto per_10k =
        static_cast<std::uint64_t>(std::llround(std::clamp(percentile, 0.0, 100.0) * 100));
    const std::uint64_t rank = std::max<std::uint64_t>(1, (per_10k * count_ + 9'999) / 10'000);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            if (i == index_of(highest_us)) return max_;  // over 60 s: the bucket has no width
            const std::uint64_t mid = lower_bound(i) + width(i) / 2;
            return std::clamp(mid, min(), max_);
        }
    }
    return max_;
}

}  // namespace sidelight::loadtest
