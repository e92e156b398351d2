#pragma once
// Verifies the `Authorization: Bearer` JWT of a request (JWS compact serialization, RFC 7515,
// 7518, 7519) against the key configured under `audit.jwt`, for `jwt:<claim>` value sources.
//
// A token is accepted only when
//   - it has three base64url parts, and its header and payload are JSON objects;
//   - the header's `alg` is one the configured keys allow: an RSA key RS256/384/512 and
//     PS256/384/512, an EC key the ES* of its curve (P-256 ES256, P-384 ES384, P-521 ES512), an
//     Ed25519/Ed448 key EdDSA, the HMAC secret HS256/384/512; narrowed by `audit.jwt.algorithms`.
//     `none` is never allowed. The algorithm picks the key: an HS* token is checked with the
//     secret from the environment only, never with the public key's bytes (the classic
//     algorithm-confusion attack), and `kid`/`jku`/`x5u` are ignored (keys are never fetched).
//     A header with `crit` is refused (sidelight understands no extension);
//   - the signature verifies;
//   - `exp` and `nbf`, when present (they must be numbers), hold at the request's start with
//     `leeway`; `iss` and `aud` match when `issuer` / `audience` are configured.
// Anything else is a rejection with a reason.
//
// Thread-safety: immutable after construction; verify() and claims() may run on every worker
// thread at once (the EVP_PKEY is shared read-only, each call has its own EVP_MD_CTX). claims()
// keeps a one-entry cache per thread, so a client sending the same token again costs no new
// signature check. jwt_stats is a set of atomics.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.hpp"
#include "routes/request_record.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace sidelight::rules {

// Closed set: the `reason` label of sidelight_audit_jwt_rejected_total.
enum class jwt_rejection : std::uint8_t {
    malformed,      // not three base64url parts of JSON objects, a `crit` header, a bad exp/nbf
    algorithm,      // `alg` missing, `none`, or not one the configured keys allow
    signature,      // the signature does not verify
    expired,        // exp + leeway has passed
    not_yet_valid,  // nbf - leeway is still ahead
    issuer,         // `iss` is not audit.jwt.issuer
    audience,       // `aud` does not name audit.jwt.audience
};
inline constexpr std::size_t jwt_rejection_count = 7;
std::string_view to_string(jwt_rejection r);

// Refused tokens by reason. Owned by what outlives a reload (the audit pipeline), so the counts
// survive a new rule set.
struct jwt_stats {
    std::array<std::atomic<std::uint64_t>, jwt_rejection_count> rejected{};
    void count(jwt_rejection r) {
        rejected[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t value(jwt_rejection r) const {
        return rejected[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
    }
};

class jwt_verifier {
  public:
    using result = std::variant<boost::json::object, jwt_rejection>;

    // Reads the key file and the secret's environment variable (cfg.verifies() must hold).
    // Throws config::config_error at the position of the offending key: an unreadable file, a
    // private key, an unsupported key type or curve, an RSA key under 2048 bits, an unset or
    // short (< 32 bytes) secret, an `algorithms` entry no configured key allows.
    explicit jwt_verifier(const config::jwt_config& cfg, jwt_stats* stats = nullptr);
    ~jwt_verifier();
    jwt_verifier(const jwt_verifier&) = delete;
    jwt_verifier& operator=(const jwt_verifier&) = delete;

    // The claims of the compact JWS `token` if it is accepted at `now`, else why not.
    result verify(std::string_view token, std::chrono::system_clock::time_point now) const;

    // The claims of the bearer token in the Authorization header value of request `r`, checked
    // as verify() does at the request's start; null when there is no bearer token or it is
    // refused. The claims are this thread's cached ones: valid until its next call. With
    // `count`, a refusal is counted in the stats once per request however many values are read
    // from it (callers count only in one pass over a request).
    const boost::json::object* claims(std::string_view authorization,
                                      const routes::request_record& r, bool count) const;

    // The accepted algorithms, e.g. {"RS256", "RS384", ...}.
    std::vector<std::string> algorithms() const;

    struct algorithm;  // an accepted `alg` and how to check it (opaque: jwt_verifier.cpp)

  private:
    result check_signed(std::string_view token) const;  // all but the time-dependent checks
    std::optional<jwt_rejection> check_time(const boost::json::object& claims,
                                            std::chrono::system_clock::time_point now) const;
    const algorithm* find(std::string_view name) const;
    bool signature_ok(const algorithm& a, std::string_view input, std::string_view sig) const;
    void load_key_file(std::vector<algorithm>& offered);
    void load_secret(std::vector<algorithm>& offered);

    config::jwt_config cfg_;
    jwt_stats* stats_;
    std::uint64_t id_;  // unique per verifier: keys the per-thread cache
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_;
    std::string secret_;  // cleansed on destruction
    std::vector<algorithm> algorithms_;
};

}  // namespace sidelight::rules
