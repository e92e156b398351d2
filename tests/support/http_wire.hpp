#pragma once
// Minimal HTTP/1.1 wire helpers for tests: blocking sockets, raw bytes in and out, so tests
// can assert exactly what crossed the proxy. Not for production use.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sidelight::test {

using namespace std::chrono_literals;

// A parsed HTTP message as seen on the wire.
struct wire_message {
    std::string start_line;  // "GET /x HTTP/1.1" / "HTTP/1.1 200 OK"
    std::vector<std::pair<std::string, std::string>> headers;   // in order, names as sent
    std::string body;                                           // de-chunked
    std::vector<std::pair<std::string, std::string>> trailers;  // of a chunked body
    std::string raw_head;
    bool chunked = false;
    int status = 0;  // responses only

    // First value of a header (case-insensitive name), or "" when absent.
    std::string header(const std::string& name) const;
    std::size_t header_count(const std::string& name) const;
};

// A listening socket on 127.0.0.1 with a free port (written to `port`), for fake apps that
// misbehave below HTTP (never accept, never read). Returns the fd; throws on failure.
int listen_loopback(int backlog, std::uint16_t& port);
// A port that was free a moment ago (bound, then closed): for a child process that will listen
// on it. Another test running at the same time may take it first.
std::uint16_t free_port();

// A port where nothing listens, for as long as this object lives: a socket bound to it without
// listen() (a connect is refused) and without SO_REUSEADDR (nobody else can bind it, not even
// an acceptor that sets it). For "the database / collector is gone".
class dead_port {
  public:
    dead_port();
    ~dead_port();
    dead_port(const dead_port&) = delete;
    dead_port& operator=(const dead_port&) = delete;
    std::uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// A connected blocking TCP socket with a receive buffer.
class connection {
  public:
    connection() = default;
    explicit connection(int fd) : fd_(fd) {}
    ~connection();
    connection(connection&& o) noexcept;
    connection& operator=(connection&& o) noexcept;

    static connection connect(std::uint16_t port, std::chrono::milliseconds timeout = 5s);
    bool valid() const { return fd_ >= 0; }
    void send(const std::string& bytes);
    void shutdown_write();
    void close();
    void reset();  // close with SO_LINGER 0: the peer gets an RST instead of a FIN
    // Reads one message; nullopt on EOF/timeout before a complete message.
    // `head_only_body` is true for a response to HEAD.
    std::optional<wire_message> read_message(bool is_response, bool head_only_body = false,
                                             std::chrono::milliseconds timeout = 10s);
    // True when the peer closed the connection (EOF) within the timeout.
    bool wait_closed(std::chrono::milliseconds timeout = 5s);
    // Everything until EOF or timeout.
    std::string read_all(std::chrono::milliseconds timeout = 5s);
    std::string& buffered() { return buf_; }
    int fd() const { return fd_; }

  private:
    bool fill(std::chrono::steady_clock::time_point deadline);
    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

// "<method> <target> HTTP/1.1" with Host, `extra_headers` (each ending in CRLF), Content-Type:
// application/json and the Content-Length of `body`, then the body.
std::string json_request(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& extra_headers = "");

// One request, one response, on a fresh connection.
std::optional<wire_message> http_get(std::uint16_t port, const std::string& path,
                                     const std::string& extra_headers = "");

// The body of GET /metrics on an admin port, or "" when the request failed (so that a poll
// with eventually() tries again rather than dereferencing nothing).
std::string scrape_metrics(std::uint16_t admin_port);

}  // namespace sidelight::test

namespace sidelight::test {

// The value of the sample whose line starts with `series` (name and labels exactly as
// exposed, e.g. `api_requests_total{method="GET",route="/x",status_code="200"}`), or -1.
double sample_value(const std::string& exposition, const std::string& series);
// How many sample lines start with `prefix`.
std::size_t sample_count(const std::string& exposition, const std::string& prefix);

}  // namespace sidelight::test
