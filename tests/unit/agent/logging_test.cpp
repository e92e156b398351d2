#include "agent/logging.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

namespace sidelight::agent {
namespace {

using namespace std::chrono_literals;

const auto at = std::chrono::system_clock::time_point(1'796'400'000'123ms);  // 2026-12-04T16Z

boost::json::object line_of(spdlog::level::level_enum level, std::string_view message) {
    std::string out;
    format_json_log_line(out, at, level, message);
    EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // exactly one line
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;
    return boost::json::parse(out).as_object();
}

std::vector<std::pair<std::string, std::string>> split(std::string_view message,
                                                       std::string& text) {
    std::vector<log_field> fields;
    text = std::string(split_log_fields(message, fields));
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : fields) out.emplace_back(f.key, f.value);
    return out;
}

using pairs = std::vector<std::pair<std::string, std::string>>;

TEST(split_log_fields, takes_the_trailing_pairs) {
    std::string text;
    EXPECT_EQ(split("audit: store=/var/a.db head_seq=7", text),
              (pairs{{"store", "/var/a.db"}, {"head_seq", "7"}}));
    EXPECT_EQ(text, "audit");
    EXPECT_EQ(
        split("event=tunnel_closed request_id=r-1 reason=idle_timeout", text),
        (pairs{{"event", "tunnel_closed"}, {"request_id", "r-1"}, {"reason", "idle_timeout"}}));
    EXPECT_EQ(text, "");
    EXPECT_EQ(split("shutdown: done", text), pairs{});
    EXPECT_EQ(text, "shutdown: done");
    // Text before a pair may itself contain '=': only the tail that parses entirely counts.
    EXPECT_EQ(split("a=b is not a pair, but x=1", text), (pairs{{"x", "1"}}));
    EXPECT_EQ(text, "a=b is not a pair, but");
}

TEST(split_log_fields, quoted_values_keep_spaces_and_quotes) {
    std::string text;
    EXPECT_EQ(
        split(R"(event=audit_store_error events=3 error="disk I/O error")", text),
        (pairs{{"event", "audit_store_error"}, {"events", "3"}, {"error", "disk I/O error"}}));
    EXPECT_EQ(split(R"(health: upstream unreachable error="said "no" twice" code=5)", text),
              (pairs{{"error", R"(said "no" twice)"}, {"code", "5"}}));
    EXPECT_EQ(text, "health: upstream unreachable");
    // An unterminated quote is part of an unquoted value.
    EXPECT_EQ(split(R"(x="unterminated y=2)", text), (pairs{{"x", "\"unterminated"}, {"y", "2"}}));
}

TEST(json_log_line, has_ts_level_msg_and_fields) {
    const auto o = line_of(spdlog::level::info, "audit: store=/var/a.db head_seq=7");
    EXPECT_EQ(o.at("ts").as_string(), "2026-12-04T16:00:00.123Z");
    EXPECT_EQ(o.at("level").as_string(), "info");
    EXPECT_EQ(o.at("msg").as_string(), "audit");
    EXPECT_EQ(o.at("store").as_string(), "/var/a.db");
    EXPECT_EQ(o.at("head_seq").as_string(), "7");
    EXPECT_EQ(o.size(), 5u);
}

TEST(json_log_line, msg_is_the_event_when_there_is_no_text) {
    const auto o = line_of(spdlog::level::debug, "event=tunnel_closed request_id=r-1");
    EXPECT_EQ(o.at("msg").as_string(), "tunnel_closed");
    EXPECT_EQ(o.at("event").as_string(), "tunnel_closed");
    EXPECT_EQ(o.at("request_id").as_string(), "r-1");
}

TEST(json_log_line, levels_are_debug_info_warn_error) {
    using spdlog::level::level_enum;
    const std::pair<level_enum, const char*> cases[] = {
        {level_enum::trace, "debug"}, {level_enum::debug, "debug"},
        {level_enum::info, "info"},   {level_enum::warn, "warn"},
        {level_enum::err, "error"},   {level_enum::critical, "error"}};
    for (const auto& [level, name] : cases)
        EXPECT_EQ(line_of(level, "m").at("level").as_string(), name);
}

TEST(json_log_line, hostile_values_cannot_break_the_line) {
    const std::string hostile = "a\r\n{\"level\":\"error\"}\\ \"q\" \xff\xfe end\xE2\x80\xA8";
    const auto o = line_of(spdlog::level::warn, "bad: request_id=" + std::string("id\r\nx") +
                                                    " user_agent=\"" + hostile + "\"");
    EXPECT_EQ(o.at("level").as_string(), "warn");
    EXPECT_EQ(o.at("msg").as_string(), "bad");
    EXPECT_EQ(o.at("request_id").as_string(), "id\r\nx");
    // Invalid UTF-8 is replaced; everything else comes back as it was.
    EXPECT_EQ(o.at("user_agent").as_string(),
              "a\r\n{\"level\":\"error\"}\\ \"q\" \xEF\xBF\xBD\xEF\xBF\xBD end\xE2\x80\xA8");
    // A message that is all hostile text is still one line, kept whole as msg.
    const auto whole = line_of(spdlog::level::err, hostile);
    EXPECT_EQ(whole.at("level").as_string(), "error");
}

TEST(json_log_line, a_pair_cannot_replace_the_line_members) {
    const auto o = line_of(spdlog::level::info, "m level=error msg=forged ts=0");
    EXPECT_EQ(o.at("level").as_string(), "info");
    EXPECT_EQ(o.at("msg").as_string(), "m");
    EXPECT_EQ(o.at("field_level").as_string(), "error");
    EXPECT_EQ(o.at("field_msg").as_string(), "forged");
    EXPECT_EQ(o.at("field_ts").as_string(), "0");
}

TEST(json_log_formatter, formats_spdlog_messages) {
    json_log_formatter f;
    spdlog::details::log_msg msg("audit", spdlog::level::warn,
                                 "event=audit_events_dropped count=4");
    spdlog::memory_buf_t buf;
    f.clone()->format(msg, buf);
    const std::string line(buf.data(), buf.size());
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    const auto o = boost::json::parse(line).as_object();
    EXPECT_EQ(o.at("level").as_string(), "warn");
    EXPECT_EQ(o.at("msg").as_string(), "audit_events_dropped");
    EXPECT_EQ(o.at("count").as_string(), "4");
    EXPECT_TRUE(std::regex_match(std::string(o.at("ts").as_string()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

}  // namespace
}  // namespace sidelight::agent
