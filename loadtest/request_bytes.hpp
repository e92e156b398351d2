#pragma once
// The bytes of a scenario's request, built once: method, path, Host, the configured headers,
// Content-Length and the body. Where the path or the body holds `{{seq}}` (first, first + step,
// first + 2 step, ...: a scenario's threads each take every step-th number) or `{{random}}` (64
// random bits in decimal), only those parts are filled in again for each request; otherwise next()
// hands out the same string every time.
//
// Thread-safety: none; one builder per load thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadtest/plan.hpp"

namespace sidelight::loadtest {

class request_bytes {
  public:
    request_bytes(const request_spec& spec, const target_address& target,
                  std::uint64_t first_seq = 1, std::uint64_t seq_step = 1);
    bool dynamic() const { return dynamic_; }
    // Valid until the next call.
    std::string_view next();

  private:
    enum class part_kind { text, seq, random };
    struct part {
        part_kind kind;
        std::string text;
    };
    static std::vector<part> split(std::string_view text);
    void fill(const std::vector<part>& parts, std::string& out);

    bool dynamic_ = false;
    std::string fixed_;              // the whole request when not dynamic
    std::string method_sp_;          // "POST "
    std::vector<part> path_, body_;  // dynamic: the parts to fill
    std::string after_path_;         // " HTTP/1.1\r\nHost: ...\r\n<headers>" (no length)
    std::uint64_t seq_ = 0;
    std::uint64_t seq_step_ = 1;
    std::string out_, body_text_;
};

}  // namespace sidelight::loadtest
