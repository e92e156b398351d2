#include "audit/checkpoint.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "config/load.hpp"

namespace sidelight::audit {

namespace {

namespace json = boost::json;

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

bio_ptr open_bio(const std::string& path, const char* mode) {
    bio_ptr bio{BIO_new_file(path.c_str(), mode), &BIO_free};
    if (!bio) throw checkpoint_error("cannot open key file " + path);
    return bio;
}

EVP_PKEY* require_ed25519(EVP_PKEY* key, const std::string& path) {
    if (!key) throw checkpoint_error("no PEM key in " + path);
    if (!EVP_PKEY_is_a(key, "ED25519")) {
        EVP_PKEY_free(key);
        throw checkpoint_error(path + " is not an Ed25519 key");
    }
    return key;
}

std::string base64_encode(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    const int len =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::string base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return {};
    std::string out(3 * text.size() / 4, '\0');
    const int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                    reinterpret_cast<const unsigned char*>(text.data()),
                                    static_cast<int>(text.size()));
    if (len < 0) return {};
    std::size_t pad = 0;
    while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
    out.resize(static_cast<std::size_t>(len) - pad);
    return out;
}

json::object payload_object(const checkpoint& cp) {
    json::object o;
    o["type"] = "audit_checkpoint";
    o["seq"] = cp.seq;
    o["hash"] = cp.hash;
    o["time"] = format_time(cp.time);
    o["count"] = cp.count;
    return o;
}

template <typename T>
T field(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) throw checkpoint_error("checkpoint: missing \"" + std::string(key) + "\"");
    try {
        return json::value_to<T>(*v);
    } catch (const std::exception&) {
        throw checkpoint_error("checkpoint: bad \"" + std::string(key) + "\"");
    }
}

}  // namespace

std::string checkpoint_payload(const checkpoint& cp) {
    return json::serialize(payload_object(cp));
}

std::string to_json_line(const checkpoint& cp) {
    auto o = payload_object(cp);
    if (!cp.signature.empty()) {
        o["alg"] = "ed25519";
        o["sig"] = cp.signature;
    }
    return json::serialize(o);
}

checkpoint parse_checkpoint_line(std::string_view line) {
    json::error_code ec;
    const auto v = json::parse(line, ec);
    if (ec || !v.is_object()) throw checkpoint_error("checkpoint: not a JSON object");
    const auto& o = v.as_object();
    if (field<std::string>(o, "type") != "audit_checkpoint") {
        throw checkpoint_error("checkpoint: type is not audit_checkpoint");
    }
    checkpoint cp;
    cp.seq = field<std::int64_t>(o, "seq");
    cp.hash = field<std::string>(o, "hash");
    const auto t = parse_time(field<std::string>(o, "time"));
    if (!t) throw checkpoint_error("checkpoint: bad \"time\"");
    cp.time = *t;
    cp.count = field<std::int64_t>(o, "count");
    if (o.contains("sig")) cp.signature = field<std::string>(o, "sig");
    return cp;
}

std::vector<checkpoint> read_checkpoint_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw checkpoint_error("cannot open checkpoint file " + path);
    std::vector<checkpoint> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            out.push_back(parse_checkpoint_line(line));
        } catch (const checkpoint_error& e) {
            throw checkpoint_error(path + ":" + std::to_string(n) + ": " + e.what());
        }
    }
    return out;
}

checkpoint_signer::checkpoint_signer(const std::string& private_key_pem_file)
    : key_{nullptr, &EVP_PKEY_free} {
    auto bio = open_bio(private_key_pem_file, "r");
    key_.reset(require_ed25519(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                               private_key_pem_file));
}

checkpoint_signer::~checkpoint_signer() = default;

void checkpoint_signer::sign(checkpoint& cp) const {
    const auto payload = checkpoint_payload(cp);
    md_ctx_ptr ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    unsigned char sig[64];
    std::size_t len = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(payload.data()),
                       payload.size()) != 1) {
        throw checkpoint_error("checkpoint: Ed25519 signing failed");
    }
    cp.signature = base64_encode(sig, len);
}

checkpoint_verifier::checkpoint_verifier(const std::string& public_key_pem_file)
    : key_{nullptr, &EVP_PKEY_free} {
    auto bio = open_bio(public_key_pem_file, "r");
    key_.reset(require_ed25519(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                               public_key_pem_file));
}

checkpoint_verifier::~checkpoint_verifier() = default;

bool checkpoint_verifier::verify(const checkpoint& cp) const {
    const auto sig = base64_decode(cp.signature);
    if (sig.size() != 64) return false;
    const auto payload = checkpoint_payload(cp);
    md_ctx_ptr ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(payload.data()),
                            payload.size()) == 1;
}

std::unique_ptr<checkpoint_signer> make_checkpoint_signer(const config::checkpoint_config& cfg) {
    if (cfg.key_file.empty()) return nullptr;
    const auto fail = [&](const std::string& message) {
        return config::config_error(cfg.key_file_mark, "audit.checkpoint.key_file", message);
    };
    // Stat first: opening a FIFO would wait for a writer.
    struct stat st {};
    if (::stat(cfg.key_file.c_str(), &st) != 0)
        throw fail("cannot read " + cfg.key_file + ": " +
                   std::error_code(errno, std::generic_category()).message());
    if (!S_ISREG(st.st_mode)) throw fail(cfg.key_file + " is not a regular file");
    try {
        return std::make_unique<checkpoint_signer>(cfg.key_file);
    } catch (const checkpoint_error& e) {
        // "cannot open key file F", "no PEM key in F", "F is not an Ed25519 key"
        throw fail(
            std::string(e.what()) +
            " (expected an Ed25519 private key in PEM; `sidelight audit keygen` writes one)");
    }
}

void generate_checkpoint_key(const std::string& private_key_pem_file,
                             const std::string& public_key_pem_file) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{
        EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free};
    if (!key) throw checkpoint_error("Ed25519 key generation failed");
    // Created 0600 before the key is written, so it is never readable by others.
    const int fd = ::open(private_key_pem_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) throw checkpoint_error("cannot create " + private_key_pem_file);
    bio_ptr priv{BIO_new_fd(fd, BIO_CLOSE), &BIO_free};
    if (!priv) {
        ::close(fd);
        throw checkpoint_error("cannot write " + private_key_pem_file);
    }
    if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
        1) {
        throw checkpoint_error("cannot write " + private_key_pem_file);
    }
    auto pub = open_bio(public_key_pem_file, "w");
    if (PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
        throw checkpoint_error("cannot write " + public_key_pem_file);
    }
}

}  // namespace sidelight::audit
