#pragma once
// Streams one HTTP message from one side to the other through a fixed buffer: the header
// already parsed into `p`, then the body piece by piece. Memory stays constant whatever the
// body size, and a slow reader on `out` slows the reads on `in` (backpressure for free).
//
// What is buffered is parsed synchronously; the socket is read only when the parser needs
// more. Heads are written as text by http_head.hpp (not Beast's serializer), and each write
// gathers what is ready — the head, a chunk's size line, the body piece, the last chunk with
// its trailers — into one sendmsg. Included by the proxy's session files only.
//
// The functions are templates on the streams: the client side is a tcp_socket, the upstream
// side a tcp_socket or a tls_stream (upstream_tls.hpp). Each instantiation calls its stream
// directly — no type erasure on a read or a write.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include "proxy/http_head.hpp"
#include "proxy/io.hpp"
#include "proxy/io_deadline.hpp"

namespace sidelight::proxy {

// Where a copy of the body goes while it streams (audit capture), up to `limit` bytes.
struct body_tap {
    std::string* into = nullptr;
    std::size_t limit = 0;
    bool* truncated = nullptr;

    void take(const char* data, std::size_t n) const {
        if (!into || n == 0) return;
        const std::size_t room = limit > into->size() ? limit - into->size() : 0;
        into->append(data, std::min(room, n));
        if (n > room) *truncated = true;
    }
};

struct relay_result {
    boost::beast::error_code read_ec;   // failure on the side the message came from
    boost::beast::error_code write_ec;  // failure on the side it went to
};

// How much to ask the kernel for: what the buffer already has room for, at least 16 KiB (a
// large body is then read 16 KiB per syscall; see serve_one for the client side's release).
inline std::size_t read_size(const boost::beast::flat_buffer& b) {
    return std::max<std::size_t>(16 * 1024, b.capacity() - b.size());
}

// Reads until `p` has a whole header. What was already buffered is parsed first, without a
// syscall. An end of stream before any byte is http::error::end_of_stream.
// `timeout` bounds the whole header, however many reads it takes.
template <bool is_request, class In>
task<boost::beast::error_code> read_header(
    In& in, io_deadline& in_deadline, boost::beast::flat_buffer& in_buf,
    boost::beast::http::parser<is_request, boost::beast::http::buffer_body, field_allocator<char>>&
        p,
    std::chrono::milliseconds timeout) {
    namespace http = boost::beast::http;
    in_deadline.arm(timeout);
    for (;;) {
        if (in_buf.size() != 0) {
            boost::beast::error_code ec;
            in_buf.consume(p.put(in_buf.data(), ec));
            if ((!ec && p.is_header_done()) || (ec && ec != http::error::need_more)) {
                in_deadline.disarm();
                co_return ec;
            }
        }
        auto [ec, n] = co_await in.async_read_some(in_buf.prepare(read_size(in_buf)), use_tuple);
        in_deadline.settle(ec);
        if (ec) {
            in_deadline.disarm();
            if (ec == boost::asio::error::eof)
                co_return p.got_some() ? http::error::partial_message : http::error::end_of_stream;
            co_return ec;
        }
        in_buf.commit(n);
    }
}

// Parses the next body piece into `buf` from what is already buffered. Returns the piece's
// size (0 only when the message is done or on a parse error, then in `read_ec`), or nullopt
// when the socket must be read first. No I/O, so no coroutine frame: a small body that came
// in the same read as its head goes through here alone.
template <bool is_request>
std::optional<std::size_t> buffered_body_piece(
    boost::beast::flat_buffer& in_buf,
    boost::beast::http::parser<is_request, boost::beast::http::buffer_body, field_allocator<char>>&
        p,
    std::span<char> buf, boost::beast::error_code& read_ec) {
    namespace http = boost::beast::http;
    auto& body = p.get().body();
    body.data = buf.data();
    body.size = buf.size();
    while (in_buf.size() != 0) {
        boost::beast::error_code ec;
        const auto used = p.put(in_buf.data(), ec);
        in_buf.consume(used);
        if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
        if (ec) {
            read_ec = ec;
            return 0;
        }
        const std::size_t got = buf.size() - body.size;
        if (got != 0 || p.is_done()) return got;
        if (used == 0) break;  // a partial chunk-size line: read more
        // else framing only (a chunk's size line): parse on
    }
    return std::nullopt;
}

// Reads the socket until the next body piece parses into `buf`, for when buffered_body_piece
// found too little buffered. Returns the piece's size (0 only when the message is done, or on
// an error, then in `read_ec`).
template <bool is_request, class In>
task<std::size_t> read_body_piece(
    In& in, io_deadline& in_deadline, boost::beast::flat_buffer& in_buf,
    boost::beast::http::parser<is_request, boost::beast::http::buffer_body, field_allocator<char>>&
        p,
    std::span<char> buf, std::chrono::milliseconds idle, boost::beast::error_code& read_ec) {
    for (;;) {
        in_deadline.arm(idle);
        auto [ec, n] = co_await in.async_read_some(in_buf.prepare(read_size(in_buf)), use_tuple);
        in_deadline.done(ec);
        if (ec == boost::asio::error::eof) {
            p.put_eof(ec);  // completes a close-delimited body; anything else is truncated
            if (ec) read_ec = ec;
            co_return 0;
        }
        if (ec) {
            read_ec = ec;
            co_return 0;
        }
        in_buf.commit(n);
        if (auto got = buffered_body_piece(in_buf, p, buf, read_ec)) co_return *got;
    }
}

// Relays the message whose header `p` holds, from `in` to `out`, with the header lines
// `extra` after its own fields. `head` is reused storage.
template <bool is_request, class In, class Out>
task<relay_result> relay_message(
    In& in, io_deadline& in_deadline, boost::beast::flat_buffer& in_buf,
    boost::beast::http::parser<is_request, boost::beast::http::buffer_body, field_allocator<char>>&
        p,
    Out& out, io_deadline& out_deadline, std::string& head, std::string_view extra,
    std::span<char> buf, std::chrono::milliseconds idle, std::uint64_t& body_bytes,
    const body_tap& tap = {}) {
    relay_result r;
    auto& msg = p.get();
    const bool chunked_out = msg.chunked();
    // Trailer fields are appended to the message's fields after these.
    const std::size_t head_fields =
        chunked_out ? static_cast<std::size_t>(std::distance(msg.begin(), msg.end())) : 0;
    head.clear();
    append_head(head, msg.base(), extra);
    bool head_pending = true;
    for (;;) {
        std::size_t got = 0;
        if (!p.is_done()) {
            if (auto ready = buffered_body_piece(in_buf, p, buf, r.read_ec)) {
                got = *ready;
            } else {
                if (head_pending) {  // the head goes before a wait for more of the body
                    head_pending = false;
                    out_deadline.arm(idle);
                    auto [ec, n] = co_await net::async_write(out, net::buffer(head), use_tuple);
                    out_deadline.done(ec);
                    if (ec) {
                        r.write_ec = ec;
                        co_return r;
                    }
                }
                got = co_await read_body_piece(in, in_deadline, in_buf, p, buf, idle, r.read_ec);
            }
            if (r.read_ec) co_return r;
            body_bytes += got;
            tap.take(buf.data(), got);
        }
        const bool last = p.is_done();
        // Everything that is ready goes out in one write: [head][size line] body [CRLF][last
        // chunk and trailers]. The text parts are appended to `head`; views are taken after.
        if (!head_pending) head.clear();
        if (chunked_out && got != 0) append_chunk_size(head, got);
        const std::size_t before_body = head.size();
        if (chunked_out && got != 0) head += "\r\n";
        if (chunked_out && last) append_last_chunk(head, msg, head_fields);
        std::array<net::const_buffer, 3> pieces;
        std::size_t k = 0;
        if (before_body != 0) pieces[k++] = net::buffer(head.data(), before_body);
        if (got != 0) pieces[k++] = net::buffer(buf.data(), got);
        if (head.size() > before_body)
            pieces[k++] = net::buffer(head.data() + before_body, head.size() - before_body);
        head_pending = false;
        if (k != 0) {
            out_deadline.arm(idle);
            auto [ec, n] = co_await net::async_write(out, std::span(pieces.data(), k), use_tuple);
            out_deadline.done(ec);
            if (ec) {
                r.write_ec = ec;
                co_return r;
            }
        }
        if (last) co_return r;
    }
}

}  // namespace sidelight::proxy
