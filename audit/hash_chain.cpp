#include "audit/hash_chain.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <optional>
#include <stdexcept>

namespace sidelight::audit {

namespace {

void put_field(std::string& out, std::string_view value) {
    const auto n = static_cast<std::uint32_t>(value.size());
    out.push_back(static_cast<char>(n >> 24));
    out.push_back(static_cast<char>(n >> 16));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
    out.append(value);
}

void put_int(std::string& out, std::int64_t value) {
    put_field(out, std::to_string(value));
}

template <typename E>
void put_common(std::string& out, std::int64_t seq, const E& e, table_kind table) {
    put_field(out, table_name(table));
    put_int(out, seq);
    put_field(out, e.event_id);
    put_field(out, format_time(e.created_at));
    put_field(out, to_string(e.source));
    put_field(out, e.request_id);
    put_field(out, e.method);
    put_field(out, e.route);
    put_int(out, e.status);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::array<unsigned char, 32>> decode_hash(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    std::array<unsigned char, 32> out{};
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return out;
}

std::string to_hex(const unsigned char* data, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    return out;
}

// The digest is fetched once; a context per thread is reused (EVP_DigestInit_ex resets it).
const EVP_MD* sha256_md() {
    static const std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md{
        EVP_MD_fetch(nullptr, "SHA256", nullptr), &EVP_MD_free};
    if (!md) throw std::runtime_error("OpenSSL: SHA256 unavailable");
    return md.get();
}

std::string digest_hex(std::string_view a, std::string_view b) {
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(),
                                                                             &EVP_MD_CTX_free};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
        throw std::runtime_error("OpenSSL: SHA-256 failed");
    }
    return to_hex(md, len);
}

}  // namespace

std::string canonical_row(std::int64_t seq, const event& ev) {
    std::string out;
    out.reserve(512);
    if (const auto* a = std::get_if<audit_event>(&ev)) {
        put_common(out, seq, *a, table_kind::audit_log);
        put_field(out, a->user_id);
        put_field(out, a->action);
        put_field(out, a->entity_type);
        put_field(out, a->entity_id);
        put_field(out, a->changes);
        put_field(out, a->ip_address);
        put_field(out, a->user_agent);
    } else {
        const auto& s = std::get<security_event>(ev);
        put_common(out, seq, s, table_kind::security_audit);
        put_field(out, s.event_type);
        put_field(out, s.user_id);
        put_field(out, s.ip_address);
        put_field(out, !s.success ? "" : *s.success ? "1" : "0");  // NULL: empty
        put_field(out, s.details);
    }
    // Only when there is one: a row without a trace id (all rows written before trace ids
    // existed) keeps exactly the encoding, and so the hash, it was stored with.
    if (const auto& trace = trace_id_of(ev); !trace.empty()) put_field(out, trace);
    return out;
}

std::string chain_hash(std::string_view prev_hash, std::int64_t seq, const event& ev) {
    const auto prev = decode_hash(prev_hash);
    if (!prev) return {};
    const std::string_view prev_bytes{reinterpret_cast<const char*>(prev->data()), prev->size()};
    return digest_hex(prev_bytes, canonical_row(seq, ev));
}

std::string sha256_hex(std::string_view data) {
    return digest_hex({}, data);
}

}  // namespace sidelight::audit
