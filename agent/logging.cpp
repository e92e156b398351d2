#include "agent/logging.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "util/json_escape.hpp"

namespace sidelight::agent {
namespace {

// Longer messages are kept whole as `msg`: splitting is quadratic in the worst case.
constexpr std::size_t max_split_bytes = 4096;

bool key_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool key_char(char c) {
    return key_start(c) || (c >= '0' && c <= '9') || c == '.';
}

// The end of a key followed by '=' at s[i], or npos.
std::size_t key_end(std::string_view s, std::size_t i) {
    if (i >= s.size() || !key_start(s[i])) return std::string_view::npos;
    while (i < s.size() && key_char(s[i])) ++i;
    return i < s.size() && s[i] == '=' ? i : std::string_view::npos;
}

// A pair ends at the end of the message or at a space that begins the next pair.
bool pair_ends_at(std::string_view s, std::size_t i) {
    return i == s.size() || (s[i] == ' ' && key_end(s, i + 1) != std::string_view::npos);
}

// Parses s[i..] as `k=v( k=v)*`; appends the pairs and returns true, or leaves `fields` as it
// was. A quoted value ends at the first quote that ends the pair, so it may hold quotes.
bool parse_pairs(std::string_view s, std::size_t i, std::vector<log_field>& fields) {
    const auto mark = fields.size();
    while (true) {
        const auto k = key_end(s, i);
        if (k == std::string_view::npos) break;
        const auto v = k + 1;
        std::size_t end = std::string_view::npos;
        if (v < s.size() && s[v] == '"') {
            for (auto q = s.find('"', v + 1); q != std::string_view::npos; q = s.find('"', q + 1)) {
                if (pair_ends_at(s, q + 1)) {
                    fields.push_back({s.substr(i, k - i), s.substr(v + 1, q - v - 1)});
                    end = q + 1;
                    break;
                }
            }
        }
        if (end == std::string_view::npos) {  // unquoted (or an unterminated quote)
            end = s.find(' ', v);
            if (end == std::string_view::npos) end = s.size();
            fields.push_back({s.substr(i, k - i), s.substr(v, end - v)});
        }
        if (end == s.size()) return true;
        if (s[end] != ' ') break;
        i = end + 1;
    }
    fields.resize(mark);
    return false;
}

std::string_view level_name(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warn";
        default:
            return "error";
    }
}

void append_time(std::string& out, std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<int>(ms.count() % 1000));
    out.append(buf, static_cast<std::size_t>(n));
}

void append_member(std::string& out, std::string_view key, std::string_view value) {
    out += ",\"";
    util::append_json_escaped(out, key);
    out += "\":\"";
    util::append_json_escaped(out, value);
    out += '"';
}

bool reserved(std::string_view key) {
    return key == "ts" || key == "level" || key == "msg";
}

}  // namespace

std::string_view split_log_fields(std::string_view message, std::vector<log_field>& fields) {
    if (message.size() > max_split_bytes) return message;
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (i > 0 && message[i - 1] != ' ') continue;
        if (parse_pairs(message, i, fields)) {
            auto text = message.substr(0, i);
            while (!text.empty() && (text.back() == ' ' || text.back() == ':'))
                text.remove_suffix(1);
            return text;
        }
    }
    return message;
}

void format_json_log_line(std::string& out, std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view message) {
    thread_local std::vector<log_field> fields;
    fields.clear();
    auto text = split_log_fields(message, fields);
    if (text.empty()) {
        for (const auto& f : fields)
            if (f.key == "event") text = f.value;
    }
    out += "{\"ts\":\"";
    append_time(out, time);
    out += "\",\"level\":\"";
    out += level_name(level);
    out += '"';
    append_member(out, "msg", text);
    for (const auto& f : fields) {
        // A pair named like a line member keeps its value under another name.
        if (reserved(f.key)) {
            append_member(out, "field_" + std::string(f.key), f.value);
        } else {
            append_member(out, f.key, f.value);
        }
    }
    out += "}\n";
}

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    thread_local std::string line;
    line.clear();
    format_json_log_line(line, msg.time, msg.level,
                         std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
    return std::make_unique<json_log_formatter>();
}

void setup_logging(std::string_view level, log_format format) {
    if (format == log_format::automatic)
        format = ::isatty(STDERR_FILENO) ? log_format::text : log_format::json;
    spdlog::drop("sidelight");
    std::shared_ptr<spdlog::logger> logger;
    if (format == log_format::json) {
        logger = spdlog::stderr_logger_mt("sidelight");
        logger->set_formatter(std::make_unique<json_log_formatter>());
    } else {
        logger = spdlog::stderr_color_mt("sidelight");
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    }
    logger->set_level(spdlog::level::from_str(std::string(level)));
    spdlog::set_default_logger(logger);
}

}  // namespace sidelight::agent
