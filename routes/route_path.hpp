#pragma once
// A request target split into decoded path segments, the way the route table and the
// unmatched-path normalizer see it:
//   - the query string and fragment are ignored; an absolute-form target
//     ("http://host/path") is reduced to its path; any other form (`*`, authority-form) fails;
//   - segments are split on a raw '/', then percent-decoded one by one, so "%2F" stays inside
//     its segment;
//   - empty segments ("//", a trailing '/') are dropped, "." segments are dropped and ".."
//     pops one segment but never climbs above the root; this applies to encoded dots too
//     ("%2e%2e");
//   - an invalid percent escape ("%zz", "%4") fails the whole path.
//
// Everything lives in fixed arrays inside the object (no heap allocation): paths longer than
// `max_bytes` or with more than `max_segments` segments fail with `too_long`. The object is
// about 9 KiB; keep it on the stack of a synchronous call. Not thread-safe (one per call).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sidelight::routes {

class decoded_path {
  public:
    static constexpr std::size_t max_bytes = 8192;
    static constexpr std::size_t max_segments = 256;

    enum class status : std::uint8_t { ok, invalid_escape, too_long, not_a_path };

    // Replaces the content with the segments of `target`. On failure size() is 0.
    status parse(std::string_view target);

    std::size_t size() const { return count_; }
    std::string_view operator[](std::size_t i) const {
        return {buf_.data() + segs_[i].offset, segs_[i].length};
    }

  private:
    struct segment {
        std::uint16_t offset;
        std::uint16_t length;
    };
    bool push(std::string_view raw);  // false: bad escape or out of space (status_ says which)

    std::array<char, max_bytes> buf_;
    std::array<segment, max_segments> segs_;
    std::size_t count_ = 0;
    std::size_t used_ = 0;
    status status_ = status::ok;
};

// The raw path part of a request target (query and fragment removed); `ok` is false when the
// target is neither origin-form nor absolute-form.
struct target_path {
    std::string_view path;
    bool ok = false;
};
target_path path_of_target(std::string_view target);

}  // namespace sidelight::routes
