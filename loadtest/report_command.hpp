#pragma once
// `sidelight report`: reads a load test's --json output, any JUnit XML files and, with
// --metrics, sidelight's /metrics, and writes the CI summary (ci_summary.hpp) to --out (stdout
// without it) and, when $GITHUB_STEP_SUMMARY names a file, appends it there too.
// The timestamp is now, or $SOURCE_DATE_EPOCH when set (reproducible output, the golden test).
// Exit codes: 0 every budget (assertion) holds, 1 one failed or the load test was interrupted,
// 2 usage error (a file missing or not what it should be, a --metrics URL that does not answer,
// an output that cannot be written), the message naming the file.
//
// Thread-safety: run_report() is called once, from main.

#include <ostream>
#include <string>
#include <vector>

namespace sidelight::loadtest {

struct report_args {
    std::string loadtest_path;
    std::vector<std::string> junit_paths;
    std::string metrics_url;
    std::string out_path;  // empty: stdout
    std::string version;
};

int run_report(const report_args& args, std::ostream& out, std::ostream& err);

}  // namespace sidelight::loadtest
