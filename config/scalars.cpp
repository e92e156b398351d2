// Text -> value parsers for durations, sizes, addresses, CIDRs and ${ENV} expansion.
#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>

#include "config/load.hpp"
#include "config/yaml_walk.hpp"

namespace sidelight::config {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads a run of digits into `out`; false on no digits or overflow.
bool take_uint(std::string_view& text, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || end == text.data()) return false;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return true;
}

std::optional<std::uint64_t> unit_ms(std::string_view unit) {
    if (unit == "ms") return 1;
    if (unit == "s") return 1000;
    if (unit == "m") return 60'000;
    if (unit == "h") return 3'600'000;
    return std::nullopt;
}

// One "<digits>[.<digits>]<unit>" component of a duration, in whole milliseconds.
bool take_duration_part(std::string_view& text, std::uint64_t& total) {
    std::uint64_t whole = 0;
    if (!take_uint(text, whole)) return false;
    std::string_view fraction;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        std::size_t n = 0;
        while (n < text.size() && is_digit(text[n])) ++n;
        if (n == 0 || n > 9) return false;
        fraction = text.substr(0, n);
        text.remove_prefix(n);
    }
    std::size_t n = 0;
    while (n < text.size() && std::isalpha(static_cast<unsigned char>(text[n]))) ++n;
    auto unit = unit_ms(text.substr(0, n));
    if (!unit) return false;
    text.remove_prefix(n);
    std::uint64_t ms = 0;
    if (__builtin_mul_overflow(whole, *unit, &ms)) return false;
    if (!fraction.empty()) {
        std::uint64_t frac = 0;
        std::uint64_t scale = 1;
        std::from_chars(fraction.data(), fraction.data() + fraction.size(), frac);
        for (std::size_t i = 0; i < fraction.size(); ++i) scale *= 10;
        // frac * unit fits: frac < 1e9 and unit <= 3.6e6.
        if (frac * *unit % scale != 0) return false;  // below one millisecond
        ms += frac * *unit / scale;
    }
    return !__builtin_add_overflow(total, ms, &total);
}

// Letters, digits, '-' and '_' (Docker Compose and some internal DNS names have it; resolvers
// take it), dot-separated labels of at most 63. No trailing dot: the name also goes out as the
// TLS server name and in Host, where a fully qualified name's dot does not belong.
bool valid_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i == host.size() || host[i] == '.') {
            if (label == 0 || label > 63 || host[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        char c = host[i];
        bool ok =
            std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c == '-' && label > 0);
        if (!ok) return false;
        ++label;
    }
    return true;
}

bool valid_host(const std::string& host) {
    unsigned char buf[16];
    if (host.find(':') != std::string::npos) return inet_pton(AF_INET6, host.c_str(), buf) == 1;
    if (host.find_first_not_of("0123456789.") == std::string::npos)
        return inet_pton(AF_INET, host.c_str(), buf) == 1;
    return valid_host_name(host);
}

bool valid_env_name(std::string_view name) {
    if (name.empty() || is_digit(name.front())) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
    if (text == "0") return duration{0};
    if (text.empty()) return std::nullopt;
    std::uint64_t total = 0;
    while (!text.empty())
        if (!take_duration_part(text, total)) return std::nullopt;
    if (total > static_cast<std::uint64_t>(duration::max().count())) return std::nullopt;
    return duration{static_cast<duration::rep>(total)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t value = 0;
    if (!take_uint(text, value)) return std::nullopt;
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::string unit;
    for (char c : text) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static constexpr std::pair<std::string_view, std::uint64_t> units[] = {{"", 1},
                                                                           {"b", 1},
                                                                           {"kb", 1000},
                                                                           {"mb", 1000'000},
                                                                           {"gb", 1000'000'000},
                                                                           {"tb", 1000'000'000'000},
                                                                           {"kib", 1ULL << 10},
                                                                           {"mib", 1ULL << 20},
                                                                           {"gib", 1ULL << 30},
                                                                           {"tib", 1ULL << 40}};
    for (const auto& [name, factor] : units) {
        if (unit != name) continue;
        std::uint64_t bytes = 0;
        if (__builtin_mul_overflow(value, factor, &bytes)) return std::nullopt;
        return bytes;
    }
    return std::nullopt;
}

std::optional<address> parse_address(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string host{text.substr(0, colon)};
    std::string_view port_text = text.substr(colon + 1);
    std::uint64_t port = 0;
    if (port_text.empty() || port_text.size() > 5 || !take_uint(port_text, port) ||
        !port_text.empty() || port > 65535)
        return std::nullopt;
    if (host.empty() || host == "*") {
        host = "0.0.0.0";
    } else if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return std::nullopt;
        host = host.substr(1, host.size() - 2);
        if (host.find(':') == std::string::npos) return std::nullopt;
    } else if (host.find(':') != std::string::npos) {
        return std::nullopt;  // a bare IPv6 address needs brackets: [::1]:80
    }
    if (!valid_host(host)) return std::nullopt;
    return address{host, static_cast<std::uint16_t>(port)};
}

std::string address::to_string() const {
    std::string port_text = std::to_string(port);
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
    return host + ":" + port_text;
}

namespace detail {

std::optional<std::string> expand_env(std::string_view text, std::string& error) {
    // `token: $ADMIN_TOKEN` is a shell habit, not a literal token: taken as written it would be
    // a guessable secret that `check` shows only as <redacted>.
    if (text.size() > 1 && text[0] == '$' && valid_env_name(std::string(text.substr(1)))) {
        error = "\"" + std::string(text) + "\" is not expanded: write ${" +
                std::string(text.substr(1)) + "} for the environment variable, or $" +
                std::string(text) + " for the literal text";
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
            out += text[i];
            continue;
        }
        if (text[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        auto close = text.find('}', i + 2);
        if (close == std::string_view::npos) {
            error = "unterminated ${ in \"" + std::string(text) + "\" (write $$ for a literal $)";
            return std::nullopt;
        }
        std::string_view inner = text.substr(i + 2, close - i - 2);
        auto dash = inner.find(":-");
        std::string name{inner.substr(0, dash)};
        if (!valid_env_name(name)) {
            error = "invalid environment variable name \"" + name + "\" in ${...}";
            return std::nullopt;
        }
        const char* value = std::getenv(name.c_str());
        if (dash != std::string_view::npos && (value == nullptr || *value == '\0')) {
            out += inner.substr(dash + 2);
        } else if (value == nullptr) {
            error = "environment variable " + name + " is not set (use ${" + name +
                    ":-default} for a default)";
            return std::nullopt;
        } else {
            out += value;
        }
        i = close;
    }
    return out;
}

bool is_http_token(std::string_view text) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    if (text.empty()) return false;
    for (char c : text)
        if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos)
            return false;
    return true;
}

bool is_cidr(std::string_view text) {
    auto slash = text.find('/');
    std::string ip{text.substr(0, slash)};
    unsigned char buf[16];
    bool v6 = ip.find(':') != std::string::npos;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), buf) != 1) return false;
    if (slash == std::string_view::npos) return true;  // a single address
    std::string_view prefix = text.substr(slash + 1);
    std::uint64_t bits = 0;
    if (prefix.empty() || prefix.size() > 3 || !take_uint(prefix, bits) || !prefix.empty())
        return false;
    return bits <= (v6 ? 128U : 32U);
}

std::string join(std::initializer_list<std::string_view> words, std::string_view separator) {
    std::string out;
    for (auto word : words) {
        if (!out.empty()) out += separator;
        out += word;
    }
    return out;
}

}  // namespace detail
}  // namespace sidelight::config
