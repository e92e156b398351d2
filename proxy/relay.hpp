#pragma once
// Streams one HTTP message from one side to the other through a fixed buffer: the header
// already parsed into `p`, then the body piece by piece. Memory stays constant whatever the
// body size, and a slow reader on `out` slows the reads on `in` (backpressure for free).
// Included by session.cpp only (it instantiates Beast's parser and serializer).

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

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

template <bool is_request>
boost::asio::awaitable<relay_result> relay_message(
    boost::beast::tcp_stream& in, boost::beast::flat_buffer& in_buf,
    boost::beast::http::parser<is_request, boost::beast::http::buffer_body>& p,
    boost::beast::tcp_stream& out, std::span<char> buf, std::chrono::milliseconds idle,
    std::uint64_t& body_bytes, const body_tap& tap = {}) {
    namespace http = boost::beast::http;
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    relay_result r;
    http::serializer<is_request, http::buffer_body> sr{p.get()};
    // With no body byte at hand yet, send the header alone so the peer can start at once.
    if (!p.is_done() && in_buf.size() == 0) {
        out.expires_after(idle);
        auto [ec, n] = co_await http::async_write_header(out, sr, use_tuple);
        if (ec) {
            r.write_ec = ec;
            co_return r;
        }
    }
    do {
        auto& body = p.get().body();
        if (!p.is_done()) {
            body.data = buf.data();
            body.size = buf.size();
            in.expires_after(idle);
            auto [ec, n] = co_await http::async_read_some(in, in_buf, p, use_tuple);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
                r.read_ec = ec;
                co_return r;
            }
            body.size = buf.size() - body.size;
            body_bytes += body.size;
            tap.take(buf.data(), body.size);
            // A zero-length piece must not reach the serializer as data: for a chunked message
            // it would be written as the last chunk. Read on, or end the body properly.
            if (body.size == 0 && !p.is_done()) continue;
            body.data = body.size ? buf.data() : nullptr;
            body.more = !p.is_done();
        } else {
            body.data = nullptr;
            body.size = 0;
            body.more = false;
        }
        out.expires_after(idle);
        auto [ec, n] = co_await http::async_write(out, sr, use_tuple);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            r.write_ec = ec;
            co_return r;
        }
    } while (!p.is_done() || !sr.is_done());
    co_return r;
}

}  // namespace sidelight::proxy
