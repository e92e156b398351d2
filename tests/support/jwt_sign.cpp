#include "tests/support/jwt_sign.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <stdexcept>

namespace sidelight::test {
namespace {

std::string default_header(std::string_view alg) {
    return "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"}";
}

const EVP_MD* digest_of(std::string_view alg) {
    const auto bits = alg.substr(2);
    if (bits == "384") return EVP_sha384();
    if (bits == "512") return EVP_sha512();
    return EVP_sha256();
}

std::string to_pem(EVP_PKEY* key, bool private_key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    const int ok = private_key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                                          nullptr, nullptr)
                               : PEM_write_bio_PUBKEY(bio.get(), key);
    if (ok != 1) throw std::runtime_error("PEM write failed");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// DER ECDSA-Sig-Value -> r || s, each `part` bytes.
std::string ecdsa_raw(const std::string& der, std::size_t part) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), &ECDSA_SIG_free);
    if (!sig) throw std::runtime_error("bad ECDSA signature");
    std::string out(2 * part, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, static_cast<int>(part));
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + part, static_cast<int>(part));
    return out;
}

}  // namespace

std::string base64url(std::string_view bytes) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += table[(buffer >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += table[(buffer << (6 - bits)) & 0x3f];
    return out;
}

test_key::test_key(const std::string& type) : key_(nullptr, &EVP_PKEY_free) {
    if (type == "RSA" || type == "RSA-1024")
        key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA",
                                     static_cast<size_t>(type == "RSA" ? 2048 : 1024)));
    else if (type == "ED25519")
        key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    else  // an EC curve
        key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type.c_str()));
    if (!key_) throw std::runtime_error("cannot generate a " + type + " key");
}

test_key::~test_key() = default;
test_key::test_key(test_key&&) noexcept = default;

std::string test_key::public_pem() const {
    return to_pem(key_.get(), false);
}
std::string test_key::private_pem() const {
    return to_pem(key_.get(), true);
}

std::string test_key::sign(std::string_view alg, std::string_view input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    const EVP_MD* md = alg == "EdDSA" ? nullptr : digest_of(alg);
    if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key_.get()) != 1)
        throw std::runtime_error("sign init failed");
    if (alg.starts_with("PS")) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
        throw std::runtime_error("sign failed");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                       input.size()) != 1)
        throw std::runtime_error("sign failed");
    sig.resize(len);
    if (alg.starts_with("ES")) {
        const std::size_t part = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
        return ecdsa_raw(sig, part);
    }
    return sig;
}

std::string jwt_with_key(const test_key& key, std::string_view alg, const std::string& payload,
                         const std::string& header) {
    const auto input =
        base64url(header.empty() ? default_header(alg) : header) + "." + base64url(payload);
    return input + "." + base64url(key.sign(alg, input));
}

std::string jwt_with_secret(std::string_view secret, std::string_view alg,
                            const std::string& payload, const std::string& header) {
    const auto input =
        base64url(header.empty() ? default_header(alg) : header) + "." + base64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(digest_of(alg), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

std::string jwt_unsigned(std::string_view alg, const std::string& payload,
                         std::string_view signature) {
    return base64url(default_header(alg)) + "." + base64url(payload) + "." + std::string(signature);
}

}  // namespace sidelight::test
