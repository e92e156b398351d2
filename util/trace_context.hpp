#pragma once
// W3C Trace Context (level 1) for one request: the `traceparent` a client sent, continued or
// replaced, and the two spans sidelight adds to the trace: the server span (the client's
// request, as sidelight received and answered it) and, under it, the client span (the request
// sidelight sent to the app, whose id the app receives as its parent). Plain values, no
// allocation; not thread-safe (one per request record).
//
//   traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>
//
// parse_traceparent() follows the specification's rules: lower-case hex only, no all-zero
// trace or parent id, version ff refused; a version above 00 is read for its first four fields
// when what follows them starts with '-' (a later version may append fields).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sidelight::util {

using trace_id = std::array<std::uint8_t, 16>;
using span_id = std::array<std::uint8_t, 8>;

struct traceparent {
    trace_id trace{};
    span_id parent{};
    std::uint8_t flags = 0;  // bit 0: sampled
};

// The caller's context, or false when `value` is not a valid traceparent.
bool parse_traceparent(std::string_view value, traceparent& out);

// Appends the `tracestate` list `list` (the caller's lines joined with ',') as it may be sent
// on (W3C Trace Context level 1, 3.3): its members without the empty ones, joined with ','.
// Nothing is appended, and false returned, when the list is invalid as a whole (a member
// that is not key=value by the grammar, a key twice, more than 32 members) or empty. A list
// over 512 characters loses its members over 128 characters first, from the end, then
// members from the end, until it fits.
bool append_tracestate(std::string& out, std::string_view list);

// How a trace sidelight starts is sampled. parent_based: a caller's sampled flag decides, and
// `ratio` decides for a new trace; ratio: `ratio` decides every trace, by its trace id.
enum class sampler : std::uint8_t { parent_based, always, never, ratio };

struct trace_context {
    bool active = false;      // tracing is on and this request has a context
    bool has_parent = false;  // continued a valid incoming traceparent
    bool sampled = false;     // spans are exported (flag 01 is sent on)
    trace_id trace{};
    span_id parent{};  // the caller's span (has_parent), the server span's parent
    span_id server_span{};
    span_id client_span{};  // the app's parent: what the app receives in traceparent

    void reset() { *this = trace_context{}; }

    // Starts this request's context: continues `incoming` (nullptr: none or invalid), draws
    // the span ids, and decides the sampling.
    void begin(const traceparent* incoming, sampler how, double ratio);

    // "00-<trace>-<client span>-<flags>", what the app receives.
    void write_traceparent(std::string& out) const;
    std::string trace_hex() const;
};

// Lower-case hex of id bytes, appended to `out`.
void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& id) {
    std::string out;
    append_hex(out, id.data(), N);
    return out;
}

}  // namespace sidelight::util
