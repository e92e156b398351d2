#pragma once
// The PostgreSQL wire protocol (v3) as far as an observer needs it: the startup codes, a
// splitter that finds message boundaries in a byte stream fed in arbitrary chunks (the bytes
// themselves are forwarded by the caller, untouched), the few fields read from message bodies,
// and the ErrorResponse sidelight sends when it cannot reach the database.
//
// Not thread-safe: one splitter per direction of one connection.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sidelight::dbproxy {

// Startup packets carry a code where a message type would be.
inline constexpr std::uint32_t protocol_v3 = 196608;  // 3.0
inline constexpr std::uint32_t cancel_request_code = 80877102;
inline constexpr std::uint32_t ssl_request_code = 80877103;
inline constexpr std::uint32_t gssenc_request_code = 80877104;

std::uint32_t read_u32(std::string_view bytes, std::size_t at);  // big-endian; 0 out of range
void put_u32(std::string& out, std::uint32_t v);

// Splits typed messages (type byte, int32 length including itself, body). For each complete
// message, calls on_message(type, body) with at most `keep` leading body bytes (the body of a
// CopyData is never held whole). A length below 4 marks the stream as broken (broken() turns
// true and nothing more is reported): the bytes are still the client's and the server's.
class message_splitter {
  public:
    explicit message_splitter(std::size_t keep) : keep_(keep) {}

    template <class OnMessage>
    void feed(std::span<const char> bytes, OnMessage&& on_message) {
        std::size_t i = 0;
        while (i < bytes.size() && !broken_) {
            i += step(bytes.subspan(i));
            if (complete_) {
                on_message(type_, std::string_view(body_));
                reset();
            }
        }
    }
    bool broken() const { return broken_; }

  private:
    std::size_t step(std::span<const char> bytes);  // consumes some bytes; may complete one
    void reset();

    std::size_t keep_;
    char header_[5] = {};
    std::size_t header_have_ = 0;
    char type_ = 0;
    std::uint32_t remaining_ = 0;  // body bytes still to come
    std::string body_;
    bool complete_ = false;
    bool broken_ = false;
};

// Body readers; none when the body is shorter than the field.
struct cursor {
    std::string_view body;
    std::size_t at = 0;
    std::optional<std::string_view> cstring();  // up to the NUL, which is consumed
    std::optional<char> byte();
};

// 'E' with severity FATAL, SQLSTATE 08006 and `message`, as the server would send it.
std::string error_response(std::string_view message);

}  // namespace sidelight::dbproxy
