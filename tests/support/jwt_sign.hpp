#pragma once
// Test-side JWT minting: fresh keys generated with OpenSSL (RSA 2048, EC P-256/P-384, Ed25519)
// and compact JWS tokens signed with them or with an HMAC secret, so tests never ship a key
// or a token that could be valid anywhere else. Not thread-safe per key; tests only.

#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace sidelight::test {

std::string base64url(std::string_view bytes);

class test_key {
  public:
    // "RSA" (2048 bits), "RSA-1024", "ED25519", or an EC curve ("P-256", "P-384", ...).
    explicit test_key(const std::string& type);
    ~test_key();
    test_key(test_key&&) noexcept;
    std::string public_pem() const;   // SubjectPublicKeyInfo
    std::string private_pem() const;  // PKCS#8
    // The raw JWS signature of `input` for `alg` (RS*, PS*, ES* as r||s, EdDSA).
    std::string sign(std::string_view alg, std::string_view input) const;

  private:
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_;
};

// header.payload.signature, with the header {"alg":<alg>,"typ":"JWT"} unless `header` is given.
std::string jwt_with_key(const test_key& key, std::string_view alg, const std::string& payload,
                         const std::string& header = "");
std::string jwt_with_secret(std::string_view secret, std::string_view alg,
                            const std::string& payload, const std::string& header = "");
// A token with `alg` in its header and an arbitrary (possibly empty) signature part.
std::string jwt_unsigned(std::string_view alg, const std::string& payload,
                         std::string_view signature = "");

}  // namespace sidelight::test
