#include "proxy/io_deadline.hpp"

#include <gtest/gtest.h>

namespace sidelight::proxy {
namespace {

using clock = io_deadline::clock;
namespace error = boost::asio::error;

TEST(IoDeadlineTest, ExpiresOnceItsTimeHasPassed) {
    io_deadline d;
    EXPECT_FALSE(d.expire(clock::now() + std::chrono::hours(24 * 365)));  // never armed
    d.arm(std::chrono::seconds(10));
    EXPECT_FALSE(d.expire(clock::now()));
    EXPECT_TRUE(d.expire(clock::now() + std::chrono::seconds(11)));
    EXPECT_FALSE(d.expire(clock::now() + std::chrono::seconds(12)));  // fires once
}

TEST(IoDeadlineTest, ACancellationByTheWatchdogIsATimeout) {
    io_deadline d;
    d.arm(std::chrono::milliseconds(1));
    ASSERT_TRUE(d.expire(clock::now() + std::chrono::seconds(1)));
    boost::beast::error_code ec = error::operation_aborted;
    d.done(ec);
    EXPECT_EQ(ec, boost::beast::error::timeout);
}

TEST(IoDeadlineTest, OtherOutcomesAreLeftAlone) {
    io_deadline d;
    // The operation completed before the watchdog's cancel could reach it.
    d.arm(std::chrono::milliseconds(1));
    ASSERT_TRUE(d.expire(clock::now() + std::chrono::seconds(1)));
    boost::beast::error_code ok;
    d.done(ok);
    EXPECT_FALSE(ok);
    // A cancellation that was not the watchdog's (e.g. a drain) stays what it was.
    d.arm(std::chrono::seconds(10));
    boost::beast::error_code aborted = error::operation_aborted;
    d.done(aborted);
    EXPECT_EQ(aborted, error::operation_aborted);
    // Disarmed: nothing to expire.
    EXPECT_FALSE(d.expire(clock::now() + std::chrono::hours(1)));
}

}  // namespace
}  // namespace sidelight::proxy
