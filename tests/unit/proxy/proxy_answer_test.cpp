#include "proxy/proxy_answer.hpp"

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

namespace sidelight::proxy {
namespace {

namespace http = boost::beast::http;

TEST(ProxyAnswerTest, EachAnswerHasItsStatusAndErrorType) {
    const auto row = [](proxy_answer a) {
        const auto r = answer_row(a);
        return std::pair{static_cast<int>(r.status), r.error};
    };
    EXPECT_EQ(row(proxy_answer::bad_request), std::pair(400, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::method_not_allowed), std::pair(405, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::request_timeout), std::pair(408, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::payload_too_large), std::pair(413, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::uri_too_long), std::pair(414, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::expectation_failed), std::pair(417, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::header_too_large), std::pair(431, error_type::bad_request));
    EXPECT_EQ(row(proxy_answer::upstream_connect), std::pair(502, error_type::upstream_connect));
    EXPECT_EQ(row(proxy_answer::upstream_reset), std::pair(502, error_type::upstream_reset));
    EXPECT_EQ(row(proxy_answer::upstream_bad_response),
              std::pair(502, error_type::upstream_bad_response));
    EXPECT_EQ(row(proxy_answer::upstream_timeout), std::pair(504, error_type::upstream_timeout));
    EXPECT_EQ(row(proxy_answer::upstream_tls), std::pair(502, error_type::upstream_tls));
    EXPECT_EQ(row(proxy_answer::audit_unavailable), std::pair(503, error_type::audit_unavailable));
}

TEST(ProxyAnswerTest, RefusedHeadsGetTheirStatus) {
    EXPECT_EQ(head_answer(head_verdict::bad_request), proxy_answer::bad_request);
    EXPECT_EQ(head_answer(head_verdict::not_allowed), proxy_answer::method_not_allowed);
    EXPECT_EQ(head_answer(head_verdict::uri_too_long), proxy_answer::uri_too_long);
    EXPECT_EQ(head_answer(head_verdict::header_too_large), proxy_answer::header_too_large);
}

TEST(ProxyAnswerTest, BodyErrorsAreTheClientsOrTheClientLeft) {
    EXPECT_EQ(body_answer(http::error::body_limit), proxy_answer::payload_too_large);
    EXPECT_EQ(body_answer(http::error::bad_chunk), proxy_answer::bad_request);
    EXPECT_EQ(body_answer(boost::beast::error::timeout), proxy_answer::request_timeout);
    // The client going away is not answered.
    EXPECT_EQ(body_answer(http::error::partial_message), std::nullopt);
    EXPECT_EQ(body_answer(http::error::end_of_stream), std::nullopt);
    EXPECT_EQ(body_answer(boost::asio::error::connection_reset), std::nullopt);
    EXPECT_EQ(body_answer({}), std::nullopt);
}

}  // namespace
}  // namespace sidelight::proxy
