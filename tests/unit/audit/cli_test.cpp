#include "audit/cli.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/event_api.hpp"
#include "audit/sqlite_store.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

const std::string hostile = "a\"b\\c\r\nd\ne\rf\xE2\x80\xA8g\xE2\x80\xA9h\t</script>{\"x\":1}\n" +
                            std::string(1, '\0') + "end";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        sqlite_store s(store_at(path_));
        auto a = make_audit(hostile, hostile);
        a.changes = hostile;
        a.user_agent = hostile;
        auto sec = make_security(hostile, hostile);
        sec.details = hostile;
        const std::vector<event> batch{a, sec, make_audit("plain")};
        rows_ = s.append(batch);
    }

    temp_dir dir_;
    std::string path_ = dir_.file("a.db");
    std::vector<stored_event> rows_;
};

TEST_F(Cli, ExportWritesOneEventPerLineEvenForHostileStrings) {
    std::ostringstream out, err;
    ASSERT_EQ(audit_export_main(path_, out, err), 0);
    EXPECT_EQ(err.str(), "");
    const auto text = out.str();
    EXPECT_EQ(text.find('\r'), std::string::npos);
    EXPECT_EQ(text.find("\xE2\x80\xA8"), std::string::npos);
    EXPECT_EQ(text.find("\xE2\x80\xA9"), std::string::npos);
    const auto lines = lines_of(text);
    ASSERT_EQ(lines.size(), 3u);
    const auto first = boost::json::parse(lines[0]).as_object();
    EXPECT_EQ(first.at("seq").as_int64(), 1);
    EXPECT_EQ(first.at("table").as_string(), "audit_log");
    EXPECT_EQ(first.at("user_id").as_string(), hostile);
    EXPECT_EQ(first.at("changes").as_string(), hostile);
    EXPECT_EQ(first.at("hash").as_string(), rows_[0].hash);
    const auto second = boost::json::parse(lines[1]).as_object();
    EXPECT_EQ(second.at("event_type").as_string(), hostile);
    EXPECT_EQ(second.at("details").as_string(), hostile);
    EXPECT_EQ(second.at("success").as_bool(), false);
}

TEST_F(Cli, QueryPrintsAJsonArrayInSeqOrder) {
    std::ostringstream out, err;
    query_filter f;
    f.table = table_kind::audit_log;
    ASSERT_EQ(audit_query_main(path_, f, out, err), 0);
    EXPECT_EQ(err.str(), "");
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 1u);
    const auto rows = boost::json::parse(lines[0]).as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].as_object().at("seq").as_int64(), 1);
    EXPECT_EQ(rows[1].as_object().at("seq").as_int64(), 3);
}

TEST_F(Cli, VerifyReportsOkAndBroken) {
    std::ostringstream ok, err;
    EXPECT_EQ(audit_verify_main(path_, std::nullopt, std::nullopt, ok, err), 0);
    EXPECT_EQ(ok.str(), "OK 3 events, head seq=3 hash=" + rows_[2].hash + "\n");

    raw_db raw(path_);
    raw.exec("DROP TRIGGER audit_log_no_update");
    raw.exec("UPDATE audit_log SET user_id = 'mallory' WHERE seq = 3");
    std::ostringstream broken;
    EXPECT_EQ(audit_verify_main(path_, std::nullopt, std::nullopt, broken, err), 1);
    EXPECT_EQ(err.str(), "");
    EXPECT_EQ(broken.str().rfind("BROKEN at seq 3: modified", 0), 0u) << broken.str();
}

TEST_F(Cli, VerifyChecksCheckpointSignaturesAndTruncation) {
    generate_checkpoint_key(dir_.file("k.pem"), dir_.file("k.pub"));
    checkpoint cp{3, rows_[2].hash, now(), 3, {}};
    checkpoint_signer(dir_.file("k.pem")).sign(cp);
    std::ofstream(dir_.file("cps")) << to_json_line(cp) << "\n";
    std::ostringstream ok, err;
    EXPECT_EQ(audit_verify_main(path_, dir_.file("cps"), dir_.file("k.pub"), ok, err), 0)
        << ok.str();

    raw_db raw(path_);
    raw.exec("DROP TRIGGER audit_log_no_delete");
    raw.exec("DELETE FROM audit_log WHERE seq = 3");
    std::ostringstream truncated;
    EXPECT_EQ(audit_verify_main(path_, dir_.file("cps"), dir_.file("k.pub"), truncated, err), 1);
    EXPECT_EQ(truncated.str().rfind("BROKEN at seq 3: truncated", 0), 0u) << truncated.str();

    cp.seq = 2;  // signature no longer matches
    std::ofstream(dir_.file("forged")) << to_json_line(cp) << "\n";
    std::ostringstream forged, forged_err;
    EXPECT_EQ(audit_verify_main(path_, dir_.file("forged"), dir_.file("k.pub"), forged, forged_err),
              2);
    EXPECT_EQ(forged.str(), "");  // the report stream carries no diagnostics
    EXPECT_NE(forged_err.str().find("signature does not verify"), std::string::npos)
        << forged_err.str();

    // Without a public key the checkpoints are used, with a warning on the diagnostics stream.
    std::ostringstream unsigned_out, warning;
    EXPECT_EQ(audit_verify_main(path_, dir_.file("cps"), std::nullopt, unsigned_out, warning), 1);
    EXPECT_EQ(unsigned_out.str().rfind("BROKEN at seq 3: truncated", 0), 0u) << unsigned_out.str();
    EXPECT_NE(warning.str().find("warning: checkpoints not authenticated"), std::string::npos)
        << warning.str();
}

// Errors go to the diagnostics stream (stderr), never into the report or the export.
TEST_F(Cli, MissingStoreIsAnErrorOnTheDiagnosticsStream) {
    std::ostringstream out, err;
    EXPECT_EQ(audit_verify_main(dir_.file("nope.db"), std::nullopt, std::nullopt, out, err), 2);
    EXPECT_EQ(err.str().rfind("sidelight: audit verify: ", 0), 0u) << err.str();
    EXPECT_EQ(audit_export_main(dir_.file("nope.db"), out, err), 2);
    EXPECT_EQ(audit_query_main(dir_.file("nope.db"), query_filter{}, out, err), 2);
    EXPECT_EQ(out.str(), "");
    EXPECT_EQ(lines_of(err.str()).size(), 3u) << err.str();
}

// Every filter name the --filter help lists is one parse_query accepts.
TEST(CliFilterHelp, ListsOnlyAcceptedFilters) {
    const std::string help = query_filter_help;
    for (const char* name : {"table", "user_id", "entity_type", "entity_id", "event_type", "since",
                             "until", "after_seq", "limit"}) {
        EXPECT_NE(help.find(std::string(name) + "="), std::string::npos) << name;
        std::string error;
        parse_query(std::string(name) + "=x", error);
        EXPECT_EQ(error.find("unknown parameter"), std::string::npos) << name << ": " << error;
    }
}

// stdout carries only data: export and query write their errors to `err`, never to `out`.
TEST_F(Cli, ExportAndQueryErrorsGoToErrNotOut) {
    std::ofstream(path_, std::ios::trunc) << std::string(4096, 'x');  // not a database any more
    std::ostringstream out, err;
    EXPECT_EQ(audit_export_main(path_, out, err), 2);
    EXPECT_EQ(audit_query_main(path_, query_filter{}, out, err), 2);
    EXPECT_EQ(out.str(), "");
    const auto lines = lines_of(err.str());
    ASSERT_EQ(lines.size(), 2u) << err.str();
    EXPECT_EQ(lines[0].rfind("sidelight: audit export: ", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("sidelight: audit query: ", 0), 0u) << lines[1];
}

}  // namespace
}  // namespace sidelight::audit
