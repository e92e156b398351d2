#pragma once
// A minimal, strict HTTP/1.1 response parser for the load generator: the status line, the
// headers it needs (Content-Length, Transfer-Encoding: chunked, Connection: close), and the body
// counted, never kept. Incremental: feed() takes whatever arrived and stops at the end of the
// response, so bytes after it stay with the caller. Refused: a malformed status line or header,
// a bare LF, obs-fold, two different Content-Lengths, Content-Length with Transfer-Encoding, a
// transfer coding other than chunked, a bad chunk size, a head over 64 KiB. A response with
// neither length nor chunking ends when the server closes (on_eof()).
//
// Thread-safety: none; one parser per connection.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sidelight::loadtest {

class response_parser {
  public:
    static constexpr std::size_t max_head = 64 * 1024;

    // Before each request: a HEAD request's response has no body whatever its headers say.
    void reset(bool head_request = false);
    // Consumes bytes of the response; returns how many (fewer than n once done() or failed()).
    std::size_t feed(const char* data, std::size_t n);
    // The server closed the connection: ends a read-until-close body; true if that completed
    // the response (otherwise it was cut short).
    bool on_eof();

    bool done() const { return state_ == state::done; }
    bool failed() const { return state_ == state::failed; }
    bool started() const { return started_; }
    int status() const { return status_; }
    // The connection may carry the next request after this response.
    bool keep_alive() const { return keep_alive_; }
    const std::string& error() const { return error_; }

  private:
    enum class state {
        head,
        body,
        chunk_size,
        chunk_data,
        chunk_end,
        trailer,
        until_close,
        done,
        failed
    };
    std::size_t feed_head(const char* data, std::size_t n);
    bool parse_head(std::string_view head);
    bool parse_status_line(std::string_view line);
    bool parse_header(std::string_view line);
    std::size_t feed_line(const char* data, std::size_t n);
    bool on_chunk_line(std::string_view line);
    void fail(const char* why);
    void start_body();

    state state_ = state::head;
    bool head_request_ = false;
    bool started_ = false;
    int status_ = 0;
    bool keep_alive_ = true;
    bool chunked_ = false;
    bool has_length_ = false;
    std::uint64_t remaining_ = 0;  // of the body or of the current chunk
    std::string pending_;          // a head or chunk line split over reads
    std::string error_;
};

}  // namespace sidelight::loadtest
