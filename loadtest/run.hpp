#pragma once
// `sidelight loadtest`: loads the plan, runs its scenarios one after the other (a parallel
// scenario runs its members at once, one thread each), draws a live line per scenario on a
// terminal, prints the table, writes --json / --markdown, checks the assertions and, with
// --compare-metrics, sets sidelight's own /metrics figures beside the client's.
// Exit codes: 0 every assertion holds, 1 one fails (or an output file cannot be written),
// 2 usage error (the plan, or a --compare-metrics URL that does not answer before the run),
// 130 interrupted (SIGINT/SIGTERM: the scenarios run so far are reported, marked partial).
//
// Thread-safety: run_loadtest() is called once, from main.

#include <ostream>
#include <string>

namespace sidelight::loadtest {

struct loadtest_args {
    std::string file;
    std::string json_path;
    std::string markdown_path;
    std::string metrics_url;
    bool quiet = false;
};

int run_loadtest(const loadtest_args& args, std::ostream& out, std::ostream& err);

}  // namespace sidelight::loadtest
