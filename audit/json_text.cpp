#include "audit/json_text.hpp"

#include <cmath>
#include <cstdint>
#include <unordered_set>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include "audit/redact.hpp"

namespace sidelight::audit {
namespace {

namespace json = boost::json;
constexpr std::size_t max_path_key_bytes = 64;

void append_quoted(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xf];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

// The SAX handler of basic_parser: validates and writes as it goes. Returning false stops the
// parse; `error` then says why.
class writer {
  public:
    static constexpr std::size_t max_array_size = -1;
    static constexpr std::size_t max_object_size = -1;
    static constexpr std::size_t max_string_size = -1;
    static constexpr std::size_t max_key_size = -1;

    writer(const std::vector<std::string>& redact_keys, const json_span_filter& want_span,
           json_text& result)
        : keys_(redact_keys), want_span_(want_span), r_(result) {}

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }

    bool on_object_begin(json::error_code&) { return open(true, '{'); }
    bool on_object_end(std::size_t, json::error_code&) { return close('}'); }
    bool on_array_begin(json::error_code&) { return open(false, '['); }
    bool on_array_end(std::size_t, json::error_code&) { return close(']'); }

    bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
        part_.append(s.data(), s.size());
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&) {
        part_.append(s.data(), s.size());
        const auto start = begin_value();
        if (!redacting_) append_quoted(r_.text, part_);
        part_.clear();
        end_value(start);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
        part_.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code& ec);

    bool on_number_part(json::string_view s, json::error_code&) {
        part_.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t, json::string_view s, json::error_code&) { return number(s); }
    bool on_uint64(std::uint64_t, json::string_view s, json::error_code&) { return number(s); }
    bool on_double(double d, json::string_view s, json::error_code& ec) {
        if (std::isfinite(d)) return number(s);
        part_.clear();
        begin_value();  // names the number for the message
        return fail("number out of range", ec);
    }
    bool on_bool(bool b, json::error_code&) { return literal(b ? "true" : "false"); }
    bool on_null(json::error_code&) { return literal("null"); }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

  private:
    struct frame {
        bool object = false;
        std::size_t count = 0;
        std::size_t start = 0;  // where the container's text begins
        std::string key;        // the member being read
        std::unordered_set<std::string> keys;
    };

    std::size_t begin_value();
    void end_value(std::size_t start);
    bool open(bool object, char bracket) {
        const auto start = begin_value();
        if (!redacting_) r_.text += bracket;
        frames_.push_back({object, 0, start, {}, {}});
        return true;
    }
    bool close(char bracket) {
        const auto start = frames_.back().start;
        frames_.pop_back();
        if (!redacting_) r_.text += bracket;
        end_value(start);
        return true;
    }
    bool number(json::string_view s) {
        part_.append(s.data(), s.size());
        const auto start = begin_value();
        if (!redacting_) r_.text += part_;
        part_.clear();
        end_value(start);
        return true;
    }
    bool literal(std::string_view text) {
        const auto start = begin_value();
        if (!redacting_) r_.text += text;
        end_value(start);
        return true;
    }
    std::string path() const;
    bool fail(std::string what, json::error_code& ec) {
        r_.error = std::move(what);
        r_.error_path = path();
        ec = json::error::exception;
        return false;
    }

    const std::vector<std::string>& keys_;
    const json_span_filter& want_span_;
    json_text& r_;
    std::vector<frame> frames_;
    json_tokens tokens_;  // one per open frame with a value being read
    std::string part_;    // a string, key or number read in parts
    bool redact_next_ = false;
    bool redacting_ = false;        // inside a redacted value: nothing is written
    std::size_t redact_level_ = 0;  // frames_.size() at the redacted value
};

bool writer::on_key(json::string_view s, std::size_t, json::error_code& ec) {
    part_.append(s.data(), s.size());
    auto& f = frames_.back();
    f.key = std::move(part_);
    part_.clear();
    if (!f.keys.insert(f.key).second) {
        tokens_.push_back(f.key);
        return fail("duplicate key", ec);
    }
    if (!redacting_) {
        if (f.count > 0) r_.text += ',';
        append_quoted(r_.text, f.key);
        r_.text += ':';
        redact_next_ = is_redacted_key(f.key, keys_);
    }
    return true;
}

// Called as a value starts: names it (key or index), writes the comma an array needs and
// begins a redaction. Returns where the value's text starts.
std::size_t writer::begin_value() {
    if (!frames_.empty()) {
        auto& f = frames_.back();
        if (f.object) {
            tokens_.push_back(f.key);
        } else {
            tokens_.push_back(std::to_string(f.count));
            if (f.count > 0 && !redacting_) r_.text += ',';
        }
        ++f.count;
    }
    const auto start = r_.text.size();
    if (redact_next_) {
        redact_next_ = false;
        append_quoted(r_.text, redacted);
        redacting_ = true;
        redact_level_ = frames_.size();
    }
    return start;
}

void writer::end_value(std::size_t start) {
    const bool redacted_root = redacting_ && frames_.size() == redact_level_;
    if (redacted_root) redacting_ = false;
    if (!redacting_ && want_span_ && want_span_(tokens_))
        r_.spans.push_back({path(), start, r_.text.size()});
    if (!frames_.empty()) tokens_.pop_back();
}

std::string writer::path() const {
    std::string out;
    for (std::size_t i = 0; i < tokens_.size() && i < frames_.size(); ++i) {
        if (frames_[i].object)
            out += "." + sanitize(tokens_[i], max_path_key_bytes);
        else
            out += "[" + tokens_[i] + "]";
    }
    return out;
}

}  // namespace

std::string json_text::message(std::string_view prefix) const {
    std::string where = std::string(prefix) + error_path;
    if (where.starts_with('.')) where.erase(0, 1);
    return where.empty() ? error : where + ": " + error;
}

const json_span* json_text::span(std::string_view path) const {
    for (const auto& s : spans) {
        if (s.path == path) return &s;
    }
    return nullptr;
}

json_text canonical_json(std::string_view in, const std::vector<std::string>& redact_keys,
                         const json_span_filter& want_span) {
    json_text out;
    out.text.reserve(in.size());
    json::basic_parser<writer> parser(json::parse_options{}, redact_keys, want_span, out);
    json::error_code ec;
    const auto n = parser.write_some(false, in.data(), in.size(), ec);
    if (!out.error.empty()) return out;
    if (ec)
        out.error = "not valid JSON (" + ec.message() + ")";
    else if (n != in.size())
        out.error = "not valid JSON (extra data)";
    return out;
}

json_tokens pointer_tokens(std::string_view pointer) {
    json_tokens out;
    while (!pointer.empty()) {
        pointer.remove_prefix(1);  // the '/' before each token
        const auto end = pointer.find('/');
        const auto raw = pointer.substr(0, end);
        std::string token;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
                token += raw[i + 1] == '1' ? '/' : '~';
                ++i;
            } else {
                token += raw[i];
            }
        }
        out.push_back(std::move(token));
        if (end == std::string_view::npos) break;
        pointer.remove_prefix(end);
    }
    return out;
}

std::string unquote(std::string_view literal) {
    json::error_code ec;
    const auto v = json::parse(json::string_view(literal.data(), literal.size()), ec);
    if (ec || !v.is_string()) return "";
    const auto& s = v.as_string();
    return std::string(s.data(), s.size());
}

}  // namespace sidelight::audit
