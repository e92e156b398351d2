#pragma once
// sidelight's diagnostics: every log line goes to stderr (stdout carries only data: the access
// log, command output), as text or as JSON lines (`log_format`).
//
//   text: 2026-12-05T20:15:54.123Z level=info audit: store=/var/lib/a.db head_seq=7
//   json: {"ts":"2026-12-05T20:15:54.123Z","level":"info","msg":"audit","store":"/var/lib/a.db",
//          "head_seq":"7"}
//
// Messages are written as free text followed by `key=value` pairs (a value with spaces is
// quoted: error="..."). The JSON formatter keeps the text as `msg` (without a trailing ':'; the
// `event` value when there is no text) and turns the trailing pairs into string fields. `level`
// is one of debug, info, warn, error (trace is reported as debug, critical as error). Every
// value is JSON-escaped, so a hostile request id or error text cannot break a line.
//
// Thread-safety: setup_logging is called from main before any other thread starts (and again
// only from the same thread); the formatter runs under the sink's mutex.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/formatter.h>

#include "config/config.hpp"

namespace sidelight::agent {

using config::log_format;

// Makes the default logger write to stderr at `level` in `format` (automatic: json unless
// stderr is a terminal). Loggers cloned from it later share its sink and format.
void setup_logging(std::string_view level, log_format format);

struct log_field {
    std::string_view key;
    std::string_view value;  // without the quotes of a quoted value
};

// Splits a message into its free text and its trailing `key=value` pairs, appended to
// `fields`. The text is what precedes the longest tail that parses entirely as pairs.
std::string_view split_log_fields(std::string_view message, std::vector<log_field>& fields);

// One JSON log line (with its newline) for `message` at `level`, logged at `time`.
void format_json_log_line(std::string& out, std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view message);

class json_log_formatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace sidelight::agent
