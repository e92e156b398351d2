#include "rules/jwt_verifier.hpp"

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <boost/json/parse.hpp>

#include "config/load.hpp"
#include "rules/value_source.hpp"
#include "util/file.hpp"

namespace sidelight::rules {

enum class jwt_family : std::uint8_t { rsa_pkcs1, rsa_pss, ecdsa, eddsa, hmac };

struct jwt_verifier::algorithm {
    std::string name;  // "RS256"
    jwt_family family;
    std::unique_ptr<EVP_MD, void (*)(EVP_MD*)> md{nullptr, &EVP_MD_free};  // none for EdDSA
    std::size_t ec_part = 0;  // ECDSA: bytes of r and of s in the JWS signature
};

namespace {

using pkey_ptr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;
using clock = std::chrono::system_clock;

jwt_verifier::algorithm make_algorithm(std::string name, jwt_family family, const char* digest,
                                       std::size_t ec_part = 0) {
    jwt_verifier::algorithm a{std::move(name), family};
    if (digest) {
        a.md.reset(EVP_MD_fetch(nullptr, digest, nullptr));
        if (!a.md) throw std::runtime_error(std::string("OpenSSL offers no ") + digest);
    }
    a.ec_part = ec_part;
    return a;
}

// A key file is a few kilobytes; anything over 1 MiB is not one.
constexpr std::size_t max_key_file_bytes = 1 << 20;

std::string read_file(const std::string& path, const config::source_mark& mark) {
    auto read = util::read_small_file(path, max_key_file_bytes);
    if (!read.ok())
        throw config::config_error(mark, "audit.jwt.key_file",
                                   "cannot read " + path + ": " + read.reason(max_key_file_bytes));
    return std::move(read.text);
}

// A public key in PEM: SubjectPublicKeyInfo ("PUBLIC KEY"), PKCS#1 ("RSA PUBLIC KEY") or the key
// of a certificate ("CERTIFICATE").
EVP_PKEY* parse_public_key(const std::string& pem) {
    EVP_PKEY* key = nullptr;
    std::unique_ptr<OSSL_DECODER_CTX, void (*)(OSSL_DECODER_CTX*)> decoder(
        OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr,
                                      nullptr),
        &OSSL_DECODER_CTX_free);
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    std::size_t left = pem.size();
    if (decoder && OSSL_DECODER_from_data(decoder.get(), &data, &left) == 1 && key) return key;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    return cert ? X509_get_pubkey(cert.get()) : nullptr;
}

std::string group_name(EVP_PKEY* key) {
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return "";
    return std::string(name, len);
}

// RFC 7515 base64url without padding: anything else in a part is a malformed token.
bool is_base64url(std::string_view part) {
    return std::all_of(part.begin(), part.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

std::optional<double> numeric_date(const boost::json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.as_int64());
    if (v.is_uint64()) return static_cast<double>(v.as_uint64());
    if (v.is_double()) return v.as_double();
    return std::nullopt;
}

// JWS ECDSA signatures are r || s, each `part` bytes; OpenSSL verifies the DER encoding.
std::string ecdsa_der(std::string_view raw, std::size_t part) {
    if (raw.size() != 2 * part) return {};
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(part), nullptr);
    BIGNUM* s = BN_bin2bn(bytes + part, static_cast<int>(part), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return {};
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

// The last token whose signature this thread checked, and the last request it counted.
struct last_token {
    std::uint64_t verifier = 0;
    std::string token;
    jwt_verifier::result signed_result;
    const routes::request_record* counted = nullptr;
    clock::time_point counted_start;
};

std::atomic<std::uint64_t> next_verifier_id{1};

}  // namespace

std::string_view to_string(jwt_rejection r) {
    switch (r) {
        case jwt_rejection::malformed:
            return "malformed";
        case jwt_rejection::algorithm:
            return "algorithm";
        case jwt_rejection::signature:
            return "signature";
        case jwt_rejection::expired:
            return "expired";
        case jwt_rejection::not_yet_valid:
            return "not_yet_valid";
        case jwt_rejection::issuer:
            return "issuer";
        case jwt_rejection::audience:
            return "audience";
    }
    return "malformed";
}

jwt_verifier::jwt_verifier(const config::jwt_config& cfg, jwt_stats* stats)
    : cfg_(cfg), stats_(stats), id_(next_verifier_id.fetch_add(1)), key_(nullptr, &EVP_PKEY_free) {
    std::vector<algorithm> offered;
    if (!cfg_.key_file.empty()) load_key_file(offered);
    if (!cfg_.hmac_secret_env.empty()) load_secret(offered);
    if (cfg_.algorithms.empty()) {
        algorithms_ = std::move(offered);
        return;
    }
    std::string allowed;
    for (const auto& a : offered) allowed += (allowed.empty() ? "" : ", ") + a.name;
    for (const auto& name : cfg_.algorithms) {
        if (find(name)) continue;  // listed twice
        auto it = std::find_if(offered.begin(), offered.end(),
                               [&](const algorithm& a) { return a.name == name; });
        if (it == offered.end()) {
            throw config::config_error(
                cfg_.algorithms_mark, "audit.jwt.algorithms",
                name + " needs a key that is not configured (the configured keys allow " + allowed +
                    ")");
        }
        algorithms_.push_back(std::move(*it));
    }
}

jwt_verifier::~jwt_verifier() {
    if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

void jwt_verifier::load_key_file(std::vector<algorithm>& offered) {
    const auto& path = cfg_.key_file;
    const auto fail = [&](const std::string& message) {
        ERR_clear_error();
        return config::config_error(cfg_.key_file_mark, "audit.jwt.key_file",
                                    path + ": " + message);
    };
    const std::string pem = read_file(path, cfg_.key_file_mark);
    if (pem.find("PRIVATE KEY-----") != std::string::npos)
        throw fail(
            "holds a private key; give sidelight only the public key "
            "(openssl pkey -in key.pem -pubout)");
    key_.reset(parse_public_key(pem));
    if (!key_)
        throw fail("no PEM public key (BEGIN PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE) in it");
    if (EVP_PKEY_is_a(key_.get(), "RSA")) {
        const int bits = EVP_PKEY_get_bits(key_.get());
        if (bits < 2048)
            throw fail("an RSA key of " + std::to_string(bits) +
                       " bits is too short (RFC 7518 asks for 2048 or more)");
        for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
            const std::string size = digest + 3;
            offered.push_back(make_algorithm("RS" + size, jwt_family::rsa_pkcs1, digest));
            offered.push_back(make_algorithm("PS" + size, jwt_family::rsa_pss, digest));
        }
    } else if (EVP_PKEY_is_a(key_.get(), "EC")) {
        const auto group = group_name(key_.get());
        if (group == "prime256v1" || group == "P-256")
            offered.push_back(make_algorithm("ES256", jwt_family::ecdsa, "SHA256", 32));
        else if (group == "secp384r1" || group == "P-384")
            offered.push_back(make_algorithm("ES384", jwt_family::ecdsa, "SHA384", 48));
        else if (group == "secp521r1" || group == "P-521")
            offered.push_back(make_algorithm("ES512", jwt_family::ecdsa, "SHA512", 66));
        else
            throw fail("unsupported EC curve " + group + " (JWS allows P-256, P-384 and P-521)");
    } else if (EVP_PKEY_is_a(key_.get(), "ED25519") || EVP_PKEY_is_a(key_.get(), "ED448")) {
        offered.push_back(make_algorithm("EdDSA", jwt_family::eddsa, nullptr));
    } else {
        const char* type = EVP_PKEY_get0_type_name(key_.get());
        throw fail(std::string("unsupported key type ") + (type ? type : "?") +
                   " (expected RSA, EC P-256/P-384/P-521 or Ed25519)");
    }
}

void jwt_verifier::load_secret(std::vector<algorithm>& offered) {
    const auto& name = cfg_.hmac_secret_env;
    const auto fail = [&](const std::string& message) {
        return config::config_error(cfg_.hmac_secret_env_mark, "audit.jwt.hmac_secret_env",
                                    message);
    };
    const char* value = std::getenv(name.c_str());
    if (!value) throw fail("environment variable " + name + " is not set");
    const std::size_t size = std::strlen(value);
    if (size < 32)
        throw fail("environment variable " + name + " holds " + std::to_string(size) +
                   " bytes; an HMAC secret needs at least 32 (RFC 7518, section 3.2)");
    secret_.assign(value, size);
    for (const char* digest : {"SHA256", "SHA384", "SHA512"})
        offered.push_back(make_algorithm("HS" + std::string(digest + 3), jwt_family::hmac, digest));
}

std::vector<std::string> jwt_verifier::algorithms() const {
    std::vector<std::string> out;
    for (const auto& a : algorithms_) out.push_back(a.name);
    return out;
}

const jwt_verifier::algorithm* jwt_verifier::find(std::string_view name) const {
    for (const auto& a : algorithms_)
        if (a.name == name) return &a;
    return nullptr;
}

bool jwt_verifier::signature_ok(const algorithm& a, std::string_view input,
                                std::string_view sig) const {
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (a.family == jwt_family::hmac) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (!HMAC(a.md.get(), secret_.data(), static_cast<int>(secret_.size()), data, input.size(),
                  mac, &len))
            return false;
        return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
    }
    std::string der;
    if (a.family == jwt_family::ecdsa) {
        der = ecdsa_der(sig, a.ec_part);
        if (der.empty()) return false;
        sig = der;
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, a.md.get(), nullptr, key_.get()) != 1)
        return false;
    if (a.family == jwt_family::rsa_pss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), data, input.size()) == 1;
}

jwt_verifier::result jwt_verifier::check_signed(std::string_view token) const {
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return jwt_rejection::malformed;
    const auto header_part = token.substr(0, dot1);
    const auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const auto signature_part = token.substr(dot2 + 1);
    if (!is_base64url(header_part) || !is_base64url(payload_part) || !is_base64url(signature_part))
        return jwt_rejection::malformed;
    const auto header = decode_json_object(header_part);
    if (!header || header->contains("crit")) return jwt_rejection::malformed;
    const auto* alg = header->if_contains("alg");
    const algorithm* a = alg && alg->is_string() ? find(alg->as_string()) : nullptr;
    if (!a) return jwt_rejection::algorithm;
    const auto signature = base64url_decode(signature_part);
    const bool ok = signature && signature_ok(*a, token.substr(0, dot2), *signature);
    ERR_clear_error();  // a failed verification leaves entries on this thread's error queue
    if (!ok) return jwt_rejection::signature;
    auto claims = decode_json_object(payload_part);
    if (!claims) return jwt_rejection::malformed;
    if (!cfg_.issuer.empty()) {
        const auto* iss = claims->if_contains("iss");
        if (!iss || !iss->is_string() || iss->as_string() != cfg_.issuer)
            return jwt_rejection::issuer;
    }
    if (!cfg_.audience.empty()) {
        const auto names = [&](const boost::json::value& v) {
            return v.is_string() && v.as_string() == cfg_.audience;
        };
        const auto* aud = claims->if_contains("aud");
        const bool named =
            aud && (names(*aud) || (aud->is_array() && std::any_of(aud->as_array().begin(),
                                                                   aud->as_array().end(), names)));
        if (!named) return jwt_rejection::audience;
    }
    return std::move(*claims);
}

std::optional<jwt_rejection> jwt_verifier::check_time(const boost::json::object& claims,
                                                      clock::time_point now) const {
    const double at = std::chrono::duration<double>(now.time_since_epoch()).count();
    const double leeway = std::chrono::duration<double>(cfg_.leeway).count();
    if (const auto* v = claims.if_contains("exp")) {
        const auto exp = numeric_date(*v);
        if (!exp) return jwt_rejection::malformed;
        if (at >= *exp + leeway) return jwt_rejection::expired;
    }
    if (const auto* v = claims.if_contains("nbf")) {
        const auto nbf = numeric_date(*v);
        if (!nbf) return jwt_rejection::malformed;
        if (at + leeway < *nbf) return jwt_rejection::not_yet_valid;
    }
    return std::nullopt;
}

jwt_verifier::result jwt_verifier::verify(std::string_view token, clock::time_point now) const {
    auto r = check_signed(token);
    if (const auto* claims = std::get_if<boost::json::object>(&r)) {
        if (const auto late = check_time(*claims, now)) return *late;
    }
    return r;
}

const boost::json::object* jwt_verifier::claims(std::string_view authorization,
                                                const routes::request_record& r, bool count) const {
    const auto token = bearer_token(authorization);
    if (token.empty()) return nullptr;

    // The token is compared in constant time: the cached one may be another client's.
    thread_local last_token last;
    if (last.verifier != id_ || last.token.size() != token.size() ||
        CRYPTO_memcmp(last.token.data(), token.data(), token.size()) != 0) {
        last.signed_result = check_signed(token);
        last.token.assign(token);
        last.verifier = id_;
    }
    const auto now = r.wall_start == clock::time_point{} ? clock::now() : r.wall_start;
    std::optional<jwt_rejection> refused;
    const auto* claims = std::get_if<boost::json::object>(&last.signed_result);
    if (claims)
        refused = check_time(*claims, now);
    else
        refused = std::get<jwt_rejection>(last.signed_result);
    if (!refused) return claims;
    if (count && stats_ && (last.counted != &r || last.counted_start != r.wall_start)) {
        stats_->count(*refused);
        last.counted = &r;
        last.counted_start = r.wall_start;
    }
    return nullptr;
}

}  // namespace sidelight::rules
