// Request smuggling defense, end to end: raw bytes sent to the real binary on a fresh
// connection per case. Every framing violation must be answered by sidelight itself and the app
// must receive nothing; the valid controls must reach the app exactly once.

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

enum class expect {
    status,      // sidelight answers `status` with Connection: close, then closes; app sees nothing
    forwarded,   // a valid control: 200 from the app, which got exactly one request
    body_abort,  // framing error inside a chunked body, found while streaming: the client gets
                 // a 400 or the connection closed with no response; the app never receives a
                 // complete request (so nothing smuggled behind it either)
};

struct smuggling_case {
    const char* name;
    std::string bytes;
    expect kind;
    int status = 0;             // for expect::status
    std::string app_body = "";  // for expect::forwarded: the body the app must get
};

// gtest prints the case name instead of the struct's bytes.
void PrintTo(const smuggling_case& c, std::ostream* os) {
    *os << c.name;
}

const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

std::string post(const std::string& headers, const std::string& body = "") {
    return "POST /api/x HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n" + body;
}

std::string chunked(const std::string& body) {
    return post("Transfer-Encoding: chunked\r\n", body);
}

smuggling_case bad(const char* name, std::string bytes) {
    return {name, std::move(bytes), expect::status, 400};
}

std::vector<smuggling_case> cases() {
    const std::string many_headers = [] {
        std::string h;
        for (int i = 0; i < 25; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
        return h;
    }();
    return {
        // Content-Length and Transfer-Encoding together, either order.
        bad("cl_then_te",
            post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled)),
        bad("te_then_cl",
            post("Transfer-Encoding: chunked\r\nContent-Length: 6\r\n", "0\r\n\r\n" + smuggled)),
        // Several Content-Length fields.
        bad("two_cl_equal", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")),
        bad("two_cl_different", post("Content-Length: 5\r\nContent-Length: 0\r\n", "hello")),
        bad("cl_list", post("Content-Length: 5, 5\r\n", "hello")),
        // Content-Length values that are not plain digits.
        bad("cl_plus_sign", post("Content-Length: +5\r\n", "hello")),
        bad("cl_negative", post("Content-Length: -5\r\n", "hello")),
        bad("cl_hex", post("Content-Length: 0x5\r\n", "hello")),
        bad("cl_inner_space", post("Content-Length: 1 0\r\n", "helloworld")),
        bad("cl_empty", post("Content-Length: \r\n", "hello")),
        bad("cl_huge", post("Content-Length: 99999999999999999999\r\n", "hello")),
        // Transfer-Encoding other than exactly `chunked`.
        bad("te_gzip_chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n")),
        bad("te_chunked_gzip", post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n")),
        bad("te_identity", post("Transfer-Encoding: identity\r\n", "hello")),
        bad("te_two_lines",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")),
        bad("te_obs_fold", post("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n")),
        bad("te_space_before_colon", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n")),
        bad("te_in_http10",
            "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        // Field syntax.
        bad("obs_fold_space", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n"),
        bad("obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n"),
        bad("ws_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        bad("tab_before_colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
        bad("field_without_colon", "GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n"),
        bad("empty_field_name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"),
        bad("nul_in_value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 37)),
        bad("ctl_in_value",
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01"
            "b\r\n\r\n"),
        bad("bare_cr_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n"),
        bad("bare_lf_mixed", "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"),
        bad("bare_lf_only", "GET / HTTP/1.1\nHost: a\n\n"),
        // Request line.
        bad("invalid_method", "G(ET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("method_with_ctl", "GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("lowercase_version", "GET / http/1.1\r\nHost: a\r\n\r\n"),
        bad("http_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        bad("http_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        bad("http_0_9", "GET /\r\n\r\n"),
        bad("space_in_target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("non_ascii_target", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("double_space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        // Limits (config below: max_url_bytes 256, max_header_count 20, max_header_bytes 1KiB).
        {"url_too_long", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
         expect::status, 414},
        {"too_many_fields", "GET / HTTP/1.1\r\nHost: a\r\n" + many_headers + "\r\n", expect::status,
         431},
        {"header_block_too_large",
         "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(8000, 'b') + "\r\n\r\n",
         expect::status, 431},
        // Chunk-level errors, found while the body streams.
        {"chunk_size_zz", chunked("zz\r\nhello\r\n0\r\n\r\n" + smuggled), expect::body_abort},
        {"chunk_size_leading_space", chunked(" 5\r\nhello\r\n0\r\n\r\n" + smuggled),
         expect::body_abort},
        {"chunk_size_negative", chunked("-5\r\nhello\r\n0\r\n\r\n" + smuggled), expect::body_abort},
        {"chunk_size_overflow", chunked("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + smuggled),
         expect::body_abort},
        {"chunk_ext_invalid", chunked("5;a\x01=b\r\nhello\r\n0\r\n\r\n" + smuggled),
         expect::body_abort},
        {"chunk_missing_crlf", chunked("5\r\nhelloXX0\r\n\r\n" + smuggled), expect::body_abort},
        {"chunk_size_too_short", chunked("3\r\nhello\r\n0\r\n\r\n" + smuggled), expect::body_abort},
        {"chunk_ext_quoted_lf", chunked("5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n" + smuggled),
         expect::body_abort},
        // A trailer may not carry framing: refused, like the same field in a head.
        bad("trailer_content_length",
            chunked("5\r\nhello\r\n0\r\nContent-Length: 36\r\n\r\n" + smuggled)),
        bad("trailer_transfer_encoding",
            chunked("5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled)),
        // Connection may not name a field sidelight reads (the option would remove it between
        // what sidelight parsed and what the app reads).
        bad("connection_names_content_length",
            post("Connection: Content-Length\r\nContent-Length: " +
                     std::to_string(smuggled.size()) + "\r\n",
                 smuggled)),
        bad("connection_names_cl_after_keep_alive",
            post("Connection: keep-alive, content-length\r\nContent-Length: 5\r\n", "hello")),
        bad("connection_names_transfer_encoding",
            post("Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")),
        bad("connection_names_host", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Host\r\n\r\n"),
        bad("connection_names_request_id",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Request-Id\r\nX-Request-Id: r\r\n\r\n"),
        // Request targets and Host (RFC 9112 3.2, RFC 9110 4.2.4, 7.2).
        bad("fragment_in_target", "GET /api/x#frag HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("authority_form_on_get", "GET shop:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("no_leading_slash", "GET api/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("asterisk_form_on_get", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("duplicate_host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        bad("host_with_userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"),
        {"connect", "CONNECT shop:443 HTTP/1.1\r\nHost: shop:443\r\n\r\n", expect::status, 405},
        // Valid controls: must reach the app exactly once.
        {"control_get", "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n", expect::forwarded, 0, ""},
        {"control_te_tab_chunked",
         post("Transfer-Encoding:\tchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), expect::forwarded, 0,
         "hello"},
        {"control_cl_body", post("Content-Length: 5\r\n", "hello"), expect::forwarded, 0, "hello"},
        {"control_chunk_extension",
         post("Transfer-Encoding: chunked\r\n", "5;name=val\r\nhello\r\n0\r\n\r\n"),
         expect::forwarded, 0, "hello"},
        {"control_leading_empty_line", "\r\nGET /api/x HTTP/1.1\r\nHost: a\r\n\r\n",
         expect::forwarded, 0, ""},
        {"control_http10", "GET /api/x HTTP/1.0\r\nHost: a\r\n\r\n", expect::forwarded, 0, ""},
        {"control_absolute_form", "GET http://a/api/x HTTP/1.1\r\nHost: a\r\n\r\n",
         expect::forwarded, 0, ""},
        {"control_asterisk_options", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", expect::forwarded, 0,
         ""},
        {"control_connection_names_custom",
         "GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n",
         expect::forwarded, 0, ""},
        {"control_chunk_ext_quoted", chunked("5;a=\"x y\"\r\nhello\r\n0\r\n\r\n"),
         expect::forwarded, 0, "hello"},
    };
}

class SmugglingBase : public ::testing::Test {
  protected:
    void SetUp() override {
        proc_ = sidelight_process::run(
            dir_, test_config(app_.port(),
                              "limits:\n  max_url_bytes: 256\n  max_header_bytes: 1KiB\n"
                              "  max_header_count: 20\n  header_read_timeout: 2s\n"));
    }
    void check(const smuggling_case& tc);

    temp_dir dir_;
    fake_upstream app_;
    std::unique_ptr<sidelight_process> proc_;
};

void SmugglingBase::check(const smuggling_case& tc) {
    auto c = connection::connect(proc_->proxy_port());
    ASSERT_TRUE(c.valid());
    c.send(tc.bytes);
    switch (tc.kind) {
        case expect::status: {
            ASSERT_TRUE(c.wait_closed(5s)) << "connection left open";
            const auto raw = c.buffered();
            ASSERT_TRUE(raw.starts_with("HTTP/1.1 ")) << "got " << raw.size() << " bytes: " << raw;
            EXPECT_EQ(std::atoi(raw.c_str() + 9), tc.status) << raw;
            EXPECT_NE(raw.find("\r\nConnection: close\r\n"), std::string::npos) << raw;
            if (tc.status == 405) {
                EXPECT_NE(raw.find("\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n"),
                          std::string::npos)
                    << raw;
            }
            break;
        }
        case expect::body_abort: {
            ASSERT_TRUE(c.wait_closed(5s)) << "connection left open";
            const auto raw = c.buffered();
            EXPECT_TRUE(raw.empty() || raw.starts_with("HTTP/1.1 400 ")) << raw;
            break;
        }
        case expect::forwarded: {
            auto res = c.read_message(true);
            ASSERT_TRUE(res);
            EXPECT_EQ(res->status, 200);
            ASSERT_EQ(app_.request_count(), 1u);
            EXPECT_EQ(app_.requests().at(0).message.body, tc.app_body);
            return;
        }
    }
    // The app got nothing: no complete request on any connection.
    EXPECT_EQ(app_.request_count(), 0u);
    EXPECT_EQ(app_.request_connections(), 0u);
}

class SmugglingTest : public SmugglingBase, public ::testing::WithParamInterface<smuggling_case> {};

TEST_P(SmugglingTest, RawRequest) {
    check(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cases, SmugglingTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// A head with only bare-LF line endings is refused at once, not waited on.
TEST_F(SmugglingBase, BareLfOnlyHeadIs400) {
    check(bad("bare_lf_only", "GET / HTTP/1.1\nHost: a\nX-A: b\n\n"));
}

TEST(SmugglingCloseTest, NothingAfterConnectionCloseReachesTheApp) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + smuggled);
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_EQ(c.buffered(), "");  // no second response
    ASSERT_EQ(app.request_count(), 1u);
    EXPECT_EQ(app.requests().at(0).message.start_line, "GET /first HTTP/1.1");
}

}  // namespace
}  // namespace sidelight::test

namespace sidelight::test {
namespace {

// The app's Connection naming its own framing: the response cannot be relayed as it is framed
// (its length would be removed as hop-by-hop), so the client gets a 502 and the connection to
// the app is dropped, never reused for the next request.
TEST(SmugglingResponseTest, ResponseConnectionNamingItsFramingIs502) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /bad "))
            return fake_reply{
                "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\n"
                "Content-Length: 5\r\n\r\nhello"};
        return fake_reply{simple_response(200, "fine")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(res->body.find("hello"), std::string::npos);
    EXPECT_TRUE(c.wait_closed(5s));
    auto next = http_get(proc->proxy_port(), "/good");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "fine");
    const auto metrics = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(sample_value(metrics->body,
                           "api_error_total{error_type=\"upstream_bad_response\","
                           "method=\"GET\",route=\"unmatched\"}"),
              1);
}

}  // namespace
}  // namespace sidelight::test
