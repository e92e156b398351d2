#include "audit/event.hpp"

#include <cstdio>
#include <ctime>

#include "util/uuid.hpp"

namespace sidelight::audit {

namespace {

template <typename Field>
auto& field_of(event& ev, Field audit_event::*a, Field security_event::*s) {
    if (auto* e = std::get_if<audit_event>(&ev)) return e->*a;
    return std::get<security_event>(ev).*s;
}

template <typename Field>
const auto& field_of(const event& ev, Field audit_event::*a, Field security_event::*s) {
    if (const auto* e = std::get_if<audit_event>(&ev)) return e->*a;
    return std::get<security_event>(ev).*s;
}

bool all_digits(std::string_view text) {
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

table_kind table_of(const event& ev) {
    return static_cast<table_kind>(ev.index());
}

std::string_view table_name(table_kind table) {
    return table == table_kind::audit_log ? "audit_log" : "security_audit";
}

std::optional<table_kind> parse_table(std::string_view name) {
    if (name == "audit_log") return table_kind::audit_log;
    if (name == "security_audit") return table_kind::security_audit;
    return std::nullopt;
}

std::string_view to_string(event_source source) {
    switch (source) {
        case event_source::rule:
            return "rule";
        case event_source::api:
            return "api";
        case event_source::detector:
            return "detector";
    }
    return "rule";
}

std::optional<event_source> parse_source(std::string_view text) {
    if (text == "rule") return event_source::rule;
    if (text == "api") return event_source::api;
    if (text == "detector") return event_source::detector;
    return std::nullopt;
}

namespace {

void put_digits(char* out, long long value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

std::string format_time_slow(time_point tp) {
    const auto secs = std::chrono::floor<std::chrono::seconds>(tp);
    const auto micros = (tp - secs).count();
    const std::time_t t = secs.time_since_epoch().count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
    return buf;
}

}  // namespace

// Called twice per stored row (hash and insert): plain arithmetic instead of gmtime_r (which
// takes a lock) and snprintf. Years outside 0..9999 keep the snprintf form.
std::string format_time(time_point tp) {
    const auto days = std::chrono::floor<std::chrono::days>(tp);
    const std::chrono::year_month_day ymd{days};
    const int year = static_cast<int>(ymd.year());
    if (year < 0 || year > 9999) return format_time_slow(tp);
    const std::chrono::hh_mm_ss<std::chrono::microseconds> hms{tp - days};
    std::string out(27, '\0');
    char* p = out.data();
    put_digits(p, year, 4);
    p[4] = '-';
    put_digits(p + 5, static_cast<unsigned>(ymd.month()), 2);
    p[7] = '-';
    put_digits(p + 8, static_cast<unsigned>(ymd.day()), 2);
    p[10] = 'T';
    put_digits(p + 11, hms.hours().count(), 2);
    p[13] = ':';
    put_digits(p + 14, hms.minutes().count(), 2);
    p[16] = ':';
    put_digits(p + 17, hms.seconds().count(), 2);
    p[19] = '.';
    put_digits(p + 20, hms.subseconds().count(), 6);
    p[26] = 'Z';
    return out;
}

std::optional<time_point> parse_time(std::string_view text) {
    // Fixed layout: YYYY-MM-DDTHH:MM:SS.ffffffZ (27 characters).
    if (text.size() != 27 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || text[19] != '.' || text[26] != 'Z') {
        return std::nullopt;
    }
    auto num = [&](std::size_t pos, std::size_t len) -> std::optional<long long> {
        const auto part = text.substr(pos, len);
        if (!all_digits(part)) return std::nullopt;
        return std::stoll(std::string(part));
    };
    const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
               s = num(17, 2), us = num(20, 6);
    if (!y || !mo || !d || !h || !mi || !s || !us) return std::nullopt;
    std::tm tm{};
    tm.tm_year = static_cast<int>(*y - 1900);
    tm.tm_mon = static_cast<int>(*mo - 1);
    tm.tm_mday = static_cast<int>(*d);
    tm.tm_hour = static_cast<int>(*h);
    tm.tm_min = static_cast<int>(*mi);
    tm.tm_sec = static_cast<int>(*s);
    const time_point tp{std::chrono::seconds{timegm(&tm)} + std::chrono::microseconds{*us}};
    // Reject out-of-range parts that timegm would normalize (e.g. hour 24).
    if (format_time(tp) != text) return std::nullopt;
    return tp;
}

std::optional<time_point> parse_client_time(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits (kept to the microsecond), and
    // Z or an offset ±HH:MM.
    if (text.size() < 20) return std::nullopt;
    std::string canonical(text.substr(0, 19));
    std::size_t i = 19;
    std::string fraction;
    if (text[i] == '.') {
        for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) fraction += text[i];
        if (fraction.empty() || fraction.size() > 9) return std::nullopt;
    }
    fraction.resize(6, '0');
    const auto zone = text.substr(i);
    std::chrono::minutes offset{0};
    if (zone != "Z" && zone != "z") {
        if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' ||
            !all_digits(zone.substr(1, 2)) || !all_digits(zone.substr(4, 2)))
            return std::nullopt;
        const int hours = (zone[1] - '0') * 10 + (zone[2] - '0');
        const int minutes = (zone[4] - '0') * 10 + (zone[5] - '0');
        if (hours > 23 || minutes > 59) return std::nullopt;
        offset = std::chrono::minutes(hours * 60 + minutes);
        if (zone[0] == '-') offset = -offset;
    }
    const auto utc = parse_time(canonical + "." + fraction + "Z");
    if (!utc) return std::nullopt;
    // Years 1 to 9999 only, once the offset is applied: past 9999 the store could write a row
    // but never read it back (verify and the event API would fail on it for good), and Postgres
    // has no year 0 (timestamptz refuses it: the batch holding such a row would never forward,
    // and every later event would wait behind it).
    const auto at = *utc - offset;
    if (!parse_time(format_time(at))) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(at)};
    if (ymd.year() < std::chrono::year{1}) return std::nullopt;
    return at;
}

time_point now() {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
}

const std::string& event_id_of(const event& ev) {
    return field_of(ev, &audit_event::event_id, &security_event::event_id);
}

bool generated_id_of(const event& ev) {
    return field_of(ev, &audit_event::generated_id, &security_event::generated_id);
}

time_point created_at_of(const event& ev) {
    return field_of(ev, &audit_event::created_at, &security_event::created_at);
}

event_source source_of(const event& ev) {
    return field_of(ev, &audit_event::source, &security_event::source);
}

const std::string& trace_id_of(const event& ev) {
    return field_of(ev, &audit_event::trace_id, &security_event::trace_id);
}

void normalize(event& ev) {
    auto& id = field_of(ev, &audit_event::event_id, &security_event::event_id);
    if (id.empty()) {
        id = util::make_uuid_v7();
        field_of(ev, &audit_event::generated_id, &security_event::generated_id) = true;
    }
    auto& at = field_of(ev, &audit_event::created_at, &security_event::created_at);
    if (at == time_point{}) at = now();
}

}  // namespace sidelight::audit
