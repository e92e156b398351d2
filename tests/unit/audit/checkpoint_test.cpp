#include "audit/checkpoint.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "audit/sqlite_store.hpp"
#include "audit/verify.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

class Checkpoints : public ::testing::Test {
  protected:
    void SetUp() override {
        generate_checkpoint_key(private_key_, public_key_);
        sqlite_store s(store_at(path_));
        std::vector<event> batch;
        for (int i = 0; i < 5; ++i) batch.push_back(make_audit(std::string(1, char('a' + i))));
        rows_ = s.append(batch);
    }

    checkpoint signed_at(std::size_t index) {
        checkpoint cp{rows_[index].seq, rows_[index].hash, now(), rows_[index].seq, {}};
        checkpoint_signer(private_key_).sign(cp);
        return cp;
    }

    verify_result run(const std::vector<checkpoint>& cps) {
        sqlite_store s(store_at(path_), open_mode::existing);
        return verify(s, cps);
    }

    temp_dir dir_;
    std::string path_ = dir_.file("a.db");
    std::string private_key_ = dir_.file("key.pem");
    std::string public_key_ = dir_.file("key.pub.pem");
    std::vector<stored_event> rows_;
};

TEST_F(Checkpoints, SignedLineRoundTripsAndVerifies) {
    const auto cp = signed_at(4);
    const auto line = to_json_line(cp);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.find("\"alg\":\"ed25519\""), std::string::npos);
    const auto parsed = parse_checkpoint_line(line);
    EXPECT_EQ(parsed.seq, 5);
    EXPECT_EQ(parsed.hash, rows_[4].hash);
    EXPECT_EQ(parsed.count, 5);
    EXPECT_EQ(parsed.time, cp.time);
    const checkpoint_verifier verifier(public_key_);
    EXPECT_TRUE(verifier.verify(parsed));
}

TEST_F(Checkpoints, TamperedOrForeignCheckpointFailsSignature) {
    const checkpoint_verifier verifier(public_key_);
    auto cp = signed_at(4);
    cp.seq = 3;
    EXPECT_FALSE(verifier.verify(cp));
    cp = signed_at(4);
    cp.hash[0] = cp.hash[0] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(verifier.verify(cp));
    cp = signed_at(4);
    cp.signature.clear();
    EXPECT_FALSE(verifier.verify(cp));

    generate_checkpoint_key(dir_.file("other.pem"), dir_.file("other.pub.pem"));
    EXPECT_FALSE(checkpoint_verifier(dir_.file("other.pub.pem")).verify(signed_at(4)));
}

TEST_F(Checkpoints, BadKeyFilesAndLinesAreErrors) {
    EXPECT_THROW(checkpoint_signer(dir_.file("missing.pem")), checkpoint_error);
    EXPECT_THROW(checkpoint_signer{public_key_}, checkpoint_error);  // a public key, not private
    EXPECT_THROW(parse_checkpoint_line("not json"), checkpoint_error);
    EXPECT_THROW(parse_checkpoint_line(R"({"type":"audit_checkpoint","seq":"x"})"),
                 checkpoint_error);
    std::ofstream(dir_.file("cps.jsonl")) << to_json_line(signed_at(1)) << "\n\n{oops\n";
    try {
        read_checkpoint_file(dir_.file("cps.jsonl"));
        FAIL();
    } catch (const checkpoint_error& e) {
        EXPECT_NE(std::string(e.what()).find("cps.jsonl:3"), std::string::npos) << e.what();
    }
}

TEST_F(Checkpoints, PrivateKeyIsOwnerOnly) {
    const auto perms = std::filesystem::status(private_key_).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none);
}

TEST_F(Checkpoints, MatchingCheckpointsVerify) {
    const auto r = run({signed_at(1), signed_at(4)});
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.count, 5);
}

TEST_F(Checkpoints, TruncatedTailIsDetected) {
    const auto cp = signed_at(4);
    raw_db raw(path_);
    raw.exec("DROP TRIGGER audit_log_no_delete");
    ASSERT_EQ(raw.exec("DELETE FROM audit_log WHERE seq >= 4"), SQLITE_OK);
    EXPECT_TRUE(run({}).ok()) << "the chain alone cannot see a shorter tail";
    const auto r = run({cp});
    EXPECT_EQ(r.status, verify_status::truncated);
    EXPECT_EQ(r.broken_seq, 4);
}

TEST_F(Checkpoints, RewrittenTailIsDetected) {
    const auto cp = signed_at(4);
    raw_db raw(path_);
    raw.exec("DROP TRIGGER audit_log_no_delete");
    ASSERT_EQ(raw.exec("DELETE FROM audit_log WHERE seq >= 4"), SQLITE_OK);
    {
        // The attacker re-appends different rows through the real code: a valid chain.
        sqlite_store s(store_at(path_));
        const std::vector<event> forged{make_audit("mallory"), make_audit("mallory")};
        s.append(forged);
    }
    EXPECT_TRUE(run({}).ok());
    const auto r = run({cp});
    EXPECT_EQ(r.status, verify_status::truncated);
    EXPECT_EQ(r.broken_seq, 5);
}

}  // namespace
}  // namespace sidelight::audit
