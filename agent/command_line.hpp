#pragma once
// sidelight's command line, parsed with CLI11: which command to run, and its arguments.
//
//   sidelight [run|check|routes] [--config FILE] [--log-level LEVEL]   (default: run)
//   sidelight routes [METHOD] [PATH]
//   sidelight slo rules [--crd] [--out FILE] [--runbook-base URL]
//   sidelight audit verify|query|export|keygen ...
//   sidelight loadtest -f loadtest.yaml [--json FILE] [--markdown FILE] [--quiet]
//                      [--compare-metrics URL]
//   sidelight report --loadtest lt.json [--junit FILE ...] [--metrics URL] [--out FILE]
//   sidelight inject -f FILE|- [--config FILE] [--port N] [--container NAME] [--service]
//                    [--image IMAGE] [--dry-run]
//   sidelight uninject -f FILE|- [--dry-run]
//
// --config and --log-level may come before the command or after it (inject's --config is the
// config to embed, and comes after `inject`). parse_command_line()
// answers --help (for every command and subcommand) and --version itself on `out`, and a usage
// error on `err` as one "sidelight: ..." line followed by the help of the command concerned.
//
// Thread-safety: none needed; called once, from main.

#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "audit/commands.hpp"
#include "inject/inject.hpp"
#include "loadtest/report_command.hpp"
#include "loadtest/run.hpp"

namespace sidelight::agent {

enum class command { run, check, routes, slo_rules, audit, loadtest, report, inject, uninject };

struct command_line {
    command cmd = command::run;
    std::string config_path = "/etc/sidelight/sidelight.yaml";
    std::string log_level;              // empty: the config's log_level
    std::vector<std::string> operands;  // routes [METHOD] [PATH]
    audit::audit_args audit;            // audit verify|query|export|keygen
    bool slo_crd = false;               // slo rules --crd
    std::string slo_out;                // slo rules --out FILE; empty: stdout
    std::string slo_runbook_base = "docs/SLO.md";
    loadtest::loadtest_args loadtest;  // loadtest -f FILE ...
    loadtest::report_args report;      // report --loadtest FILE ...
    struct {
        std::string file;         // -f FILE, "-" for stdin
        std::string config_file;  // inject --config FILE: the config to embed
        bool dry_run = false;
        inject::options opts;
    } inject;  // inject / uninject
};

// The log levels --log-level and `log_level` accept.
const std::vector<std::string>& log_levels();

// The parsed command, or the exit code when nothing is left to run: 0 after --help or
// --version, 2 after a usage error.
std::variant<command_line, int> parse_command_line(int argc, const char* const* argv,
                                                   std::ostream& out, std::ostream& err);

}  // namespace sidelight::agent
