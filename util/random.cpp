#include "util/random.hpp"

#include <sys/random.h>

#include <array>
#include <random>

namespace sidelight::util {
namespace {

class xoshiro256 {
  public:
    xoshiro256() {
        std::size_t got = 0;
        auto* bytes = reinterpret_cast<unsigned char*>(state_.data());
        while (got < sizeof state_) {
            const auto n = getrandom(bytes + got, sizeof state_ - got, 0);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got < sizeof state_) {
            std::random_device rd;
            for (auto& word : state_) word = (std::uint64_t{rd()} << 32) ^ rd();
        }
        if ((state_[0] | state_[1] | state_[2] | state_[3]) == 0) state_[0] = 1;
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> state_{};
};

}  // namespace

std::uint64_t random_u64() {
    thread_local xoshiro256 rng;
    return rng.next();
}

}  // namespace sidelight::util
