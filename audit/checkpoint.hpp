#pragma once
// Signed checkpoints: a statement "the chain had `count` rows and its row `seq` had hash `hash`
// at `time`", written as one JSON line and signed with Ed25519:
//
//   {"type":"audit_checkpoint","seq":42,"hash":"<hex>","time":"2026-...Z","count":42,
//    "alg":"ed25519","sig":"<base64>"}
//
// The signature covers checkpoint_payload(): the first five fields serialized in that fixed
// order. Kept outside the database (stdout/log shipping), checkpoints let `verify` detect what the
// chain alone cannot: a truncated or wholly rewritten tail. Unsigned checkpoints (no key
// configured) omit "alg" and "sig".
//
// Thread-safety: signer and verifier are immutable after construction; sign/verify may be called
// from several threads. Free functions are pure.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.hpp"
#include "config/config.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace sidelight::audit {

class checkpoint_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct checkpoint {
    std::int64_t seq = 0;
    std::string hash;
    time_point time{};
    std::int64_t count = 0;  // rows in the store when the checkpoint was taken
    std::string signature;   // base64 Ed25519 signature; empty: unsigned
};

std::string checkpoint_payload(const checkpoint& cp);
std::string to_json_line(const checkpoint& cp);           // no trailing newline
checkpoint parse_checkpoint_line(std::string_view line);  // throws checkpoint_error

// One checkpoint per non-blank line; throws checkpoint_error naming the line number.
std::vector<checkpoint> read_checkpoint_file(const std::string& path);

class checkpoint_signer {
  public:
    // An Ed25519 private key in PEM (PKCS#8); throws checkpoint_error.
    explicit checkpoint_signer(const std::string& private_key_pem_file);
    ~checkpoint_signer();
    void sign(checkpoint& cp) const;  // sets cp.signature

  private:
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_;
};

class checkpoint_verifier {
  public:
    // An Ed25519 public key in PEM (SubjectPublicKeyInfo); throws checkpoint_error.
    explicit checkpoint_verifier(const std::string& public_key_pem_file);
    ~checkpoint_verifier();
    bool verify(const checkpoint& cp) const;  // false when unsigned or the signature is wrong

  private:
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_;
};

// The signer for `audit.checkpoint.key_file`, or null when none is configured. Throws
// config::config_error at the key_file's position when the file is not a readable regular file
// or holds no Ed25519 private key. `sidelight check` and the writer (`run`) both call it, so
// check refuses what run would.
std::unique_ptr<checkpoint_signer> make_checkpoint_signer(const config::checkpoint_config& cfg);

// Writes a fresh Ed25519 key pair as PEM files (private key mode 0600). Throws checkpoint_error.
void generate_checkpoint_key(const std::string& private_key_pem_file,
                             const std::string& public_key_pem_file);

}  // namespace sidelight::audit
