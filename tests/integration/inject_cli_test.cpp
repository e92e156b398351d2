// `sidelight inject` / `uninject` through the real binary: exit codes 0 and 2, stdin with
// `-f -`, nothing on stdout when refused, --dry-run's diff. What inject does to each manifest is
// tests/unit/inject's subject; this is the command around it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string corpus = SIDELIGHT_SOURCE_DIR "/tests/data/inject/";

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

class InjectCliTest : public ::testing::Test {
  protected:
    // `sh -c "sidelight ARGS"`: ARGS may redirect stdin; stdout and stderr are kept apart.
    int sidelight(const std::string& args) {
        const auto o = dir_.path() + "/out", e = dir_.path() + "/err";
        const auto command = std::string(SIDELIGHT_BINARY) + " " + args + " >" + o + " 2>" + e;
        const int status = std::system(command.c_str());
        out = read_text(o);
        err = read_text(e);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    temp_dir dir_;
    std::string out, err;
};

TEST_F(InjectCliTest, WritesTheManifestsAndSaysWhatIsMissingOnStderr) {
    ASSERT_EQ(sidelight("inject -f " + corpus + "01-deployment-plain.yaml"), 0) << err;
    EXPECT_NE(out.find("      initContainers:\n        - name: sidelight\n"), std::string::npos);
    EXPECT_NE(out.find("image: sidelight:" SIDELIGHT_VERSION "\n"), std::string::npos) << out;
    EXPECT_NE(err.find("mounts the ConfigMap catalog-sidelight"), std::string::npos) << err;
}

TEST_F(InjectCliTest, RefusedExitsTwoWithNothingOnStdout) {
    const auto file = corpus + "08-stream-service-configmap-deployment.yaml";
    // A stream whose last document is refused: the first two are not written either.
    const auto stream = dir_.write(
        "stream.yaml", read_text(file) + "---\n" + read_text(corpus + "07-host-network.yaml"));
    EXPECT_EQ(sidelight("inject -f " + stream), 2);
    EXPECT_EQ(out, "");
    EXPECT_NE(err.find("stream.yaml: document 4, line "), std::string::npos) << err;
    EXPECT_NE(err.find("hostNetwork"), std::string::npos) << err;

    EXPECT_EQ(sidelight("inject -f " + corpus + "invalid/not-yaml.yaml"), 2);
    EXPECT_EQ(out, "");
    EXPECT_NE(err.find("not-yaml.yaml: document 1, line 7: not YAML"), std::string::npos) << err;

    EXPECT_EQ(sidelight("inject -f " + dir_.path() + "/absent.yaml"), 2);
    EXPECT_NE(err.find("absent.yaml: cannot read"), std::string::npos) << err;
}

TEST_F(InjectCliTest, ReadsStdinWithDash) {
    const auto file = corpus + "11-service-targets-named-port.yaml";
    ASSERT_EQ(sidelight("inject --service -f " + file), 0) << err;
    const auto from_file = out;
    ASSERT_EQ(sidelight("inject --service -f - < " + file), 0) << err;
    EXPECT_EQ(out, from_file);
    EXPECT_NE(out.find("targetPort: 18080"), std::string::npos) << out;  // the app has 8080
    // Piped back through uninject: the Service's targetPort and the pod as they were.
    const auto injected = dir_.write("injected.yaml", out);
    ASSERT_EQ(sidelight("uninject -f - < " + injected), 0) << err;
    EXPECT_EQ(out.find("sidelight"), std::string::npos) << out;
    EXPECT_NE(out.find("targetPort: http"), std::string::npos) << out;

    EXPECT_EQ(sidelight("inject -f - < " + corpus + "12-cronjob.yaml"), 2);
    EXPECT_EQ(out, "");
    EXPECT_NE(err.find("<stdin>: document 1, line 3: CronJob nightly-report"), std::string::npos)
        << err;
}

TEST_F(InjectCliTest, DryRunPrintsTheDiffInstead) {
    ASSERT_EQ(sidelight("inject --dry-run -f " + corpus + "04-existing-init-containers.yaml"), 0)
        << err;
    EXPECT_EQ(out.rfind("--- ", 0), 0u) << out;
    EXPECT_NE(out.find("\n@@ -"), std::string::npos) << out;
    EXPECT_NE(out.find("\n+        - name: sidelight\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\n         - name: migrate\n"), std::string::npos) << out;  // context
    // Already injected: no diff at all.
    ASSERT_EQ(sidelight("inject --dry-run -f " + corpus + "09-already-injected.yaml"), 0) << err;
    EXPECT_EQ(out, "");
}

TEST_F(InjectCliTest, UsageErrorsExitTwo) {
    EXPECT_EQ(sidelight("inject"), 2);  // -f is required
    EXPECT_NE(err.find("--file"), std::string::npos) << err;
    EXPECT_EQ(sidelight("--config x.yaml inject -f " + corpus + "01-deployment-plain.yaml"), 2);
    EXPECT_NE(err.find("after `inject`"), std::string::npos) << err;
    EXPECT_EQ(sidelight("inject --port 0 -f " + corpus + "14-no-declared-port.yaml"), 2);
    EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace sidelight::test
