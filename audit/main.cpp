// sidelight-audit: the audit commands alone, for an auditor's machine or a CI job that checks a
// copied store. It links the audit room (store, chain, verify/query/export) and what lies
// below it, and no proxy code: no Asio, no Beast (tests/integration/audit_tool_test.cpp checks
// the symbols). Same commands, options and exit codes as `sidelight audit ...`.

#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "audit/commands.hpp"

int main(int argc, char** argv) {
    // stdout carries only the command's output: log lines (a schema upgrade at open) go to stderr.
    spdlog::set_default_logger(spdlog::stderr_logger_st("sidelight-audit"));
    sidelight::audit::audit_args args;
    CLI::App app("sidelight-audit: verify, query and export a sidelight audit store",
                 "sidelight-audit");
    app.set_version_flag("--version", std::string("sidelight-audit ") + SIDELIGHT_VERSION);
    sidelight::audit::add_audit_commands(app, args);
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << "\n";
        return 0;
    } catch (const CLI::ParseError& e) {
        std::cerr << "sidelight-audit: " << e.what() << "\n"
                  << "run `sidelight-audit --help` for usage\n";
        return 2;
    }
    return sidelight::audit::run_audit_command(args, std::cout, std::cerr);
}
