#pragma once
// A finished load test's figures and verdicts, and the three ways they are written out: the
// table on stdout, --json (the stable schema of docs/LOADTEST.md, "sidelight.loadtest/1", read
// by `sidelight report`) and --markdown. Pure functions; thread-safe.

#include <string>
#include <utility>
#include <vector>

#include "loadtest/assertion.hpp"
#include "loadtest/plan.hpp"
#include "loadtest/result.hpp"

namespace sidelight::loadtest {

struct scenario_outcome {
    const scenario* spec = nullptr;
    run_result result;
    std::vector<run_result> member_results;  // parallel: each member's own, in members order
    std::vector<std::pair<assertion, verdict>> verdicts;

    bool passed() const;
};

// The figures assertions are checked against.
observed observe(const run_result& r);
// A ratio assertion looks its reference scenario up by name in `all` (the run's outcomes); one
// that did not run fails it.
void judge(scenario_outcome& o, const std::vector<scenario_outcome>& all = {});

std::string format_table(const std::vector<scenario_outcome>& outcomes);
// `complete`: false when the run was interrupted (then `passed` is false too).
std::string format_json(const plan& p, const std::vector<scenario_outcome>& outcomes,
                        bool complete = true);
std::string format_markdown(const plan& p, const std::vector<scenario_outcome>& outcomes);

}  // namespace sidelight::loadtest
