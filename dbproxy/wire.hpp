#pragma once
// The PostgreSQL wire protocol (v3) as far as an observer needs it: the startup codes, a
// splitter that finds message boundaries in a byte stream fed in arbitrary chunks (the bytes
// themselves are forwarded by the caller, untouched), the few fields read from message bodies,
// the ways a peer can break the protocol, and the ErrorResponses sidelight sends itself.
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

// The largest message sidelight relays, either way: the protocol allows 1 GiB, PostgreSQL's
// own messages stay far below it; a length over this closes the connection (a DataRow holding
// a value over 256 MiB included). Bodies are never held whole: the cap bounds nothing but the
// length field.
inline constexpr std::uint32_t max_message_bytes = 256u * 1024 * 1024;

inline constexpr std::size_t max_startup_bytes = 10000;  // PostgreSQL's own limit

std::uint32_t read_u32(std::string_view bytes, std::size_t at);  // big-endian; 0 out of range
void put_u32(std::string& out, std::uint32_t v);

// Why a connection was closed as a protocol violation: the `reason` label values of
// db_protocol_errors_total, a closed set.
enum class protocol_error {
    length_too_small,  // a message length below 4
    length_too_large,  // a message length over max_message_bytes
    unknown_type,      // a type byte outside the v3 set of its direction
    bad_startup,       // a startup packet with a bad length or protocol version
    truncated,         // the peer closed in the middle of a message
    too_many_pending,  // more client messages awaiting an answer than query_tracker keeps
};
inline constexpr protocol_error all_protocol_errors[] = {
    protocol_error::length_too_small, protocol_error::length_too_large,
    protocol_error::unknown_type,     protocol_error::bad_startup,
    protocol_error::truncated,        protocol_error::too_many_pending};
std::string_view to_string(protocol_error e);

// What a client's startup packet (its int32 length first) asks for. `bad`: a length field below
// 8, over max_startup_bytes or unlike the packet's size, or a code that is neither protocol 3.x
// nor an SSLRequest, GSSENCRequest or CancelRequest.
enum class startup_type { ssl_request, gssenc_request, cancel_request, startup_message, bad };
startup_type startup_kind(std::string_view packet);
bool startup_length_ok(std::uint32_t length);

// Which peer writes the stream: the type bytes allowed differ.
enum class direction { frontend, backend };

// Splits typed messages (type byte, int32 length including itself, body). For each complete
// message, calls on_message(type, body) with at most `keep` leading body bytes (the body of a
// CopyData is never held whole). A type outside the direction's v3 set, or a length below 4 or
// over max_message_bytes, marks the stream as broken: error() says why, and nothing more is
// reported.
class message_splitter {
  public:
    message_splitter(direction from, std::size_t keep) : from_(from), keep_(keep) {}

    template <class OnMessage>
    void feed(std::span<const char> bytes, OnMessage&& on_message) {
        std::size_t i = 0;
        while (i < bytes.size() && !error_) {
            i += step(bytes.subspan(i));
            if (complete_) {
                on_message(type_, std::string_view(body_));
                reset();
            }
        }
    }
    std::optional<protocol_error> error() const { return error_; }
    // True between messages: no header or body byte of a message is pending.
    bool at_boundary() const { return !error_ && header_have_ == 0; }

  private:
    std::size_t step(std::span<const char> bytes);  // consumes some bytes; may complete one
    void reset();

    direction from_;
    std::size_t keep_;
    char header_[5] = {};
    std::size_t header_have_ = 0;
    char type_ = 0;
    std::uint32_t remaining_ = 0;  // body bytes still to come
    std::string body_;
    bool complete_ = false;
    std::optional<protocol_error> error_;
};

// True when `type` is a v3 message type the `from` side may send.
bool known_type(direction from, char type);

// Body readers; none when the body is shorter than the field.
struct cursor {
    std::string_view body;
    std::size_t at = 0;
    std::optional<std::string_view> cstring();  // up to the NUL, which is consumed
    std::optional<char> byte();
};

// 'E' with severity FATAL, SQLSTATE 08006 (connection_failure) and `message`, as the server
// would send it.
std::string error_response(std::string_view message);
// The same with SQLSTATE 08P01 (protocol_violation).
std::string protocol_violation(std::string_view message);
// What PostgreSQL sends a session it ends for a shutdown: FATAL, SQLSTATE 57P01
// (admin_shutdown), "terminating connection due to administrator command".
std::string admin_shutdown();
// What PostgreSQL answers a new connection while it shuts down: FATAL, SQLSTATE 57P03
// (cannot_connect_now), "the database system is shutting down".
std::string shutting_down();

}  // namespace sidelight::dbproxy
