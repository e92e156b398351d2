// sidelight's entry point: parses the command line (agent/command_line.hpp) and runs the command.
// Exit codes: 0 success, 1 runtime failure, 2 usage, configuration or startup error.
// Diagnostics go to stderr; what a command prints (the effective config, the route table, audit
// output) goes to stdout.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/app.hpp"
#include "agent/command_line.hpp"
#include "agent/logging.hpp"
#include "agent/preflight.hpp"
#include "agent/slo_rules.hpp"
#include "audit/commands.hpp"
#include "config/load.hpp"
#include "inject/inject.hpp"
#include "loadtest/report_command.hpp"
#include "loadtest/run.hpp"
#include "routes/routing.hpp"

namespace {

using sidelight::agent::command;
using sidelight::agent::command_line;

int fail(const std::string& message) {
    std::fprintf(stderr, "sidelight: %s\n", message.c_str());
    return 2;
}

// `routes [METHOD] [PATH]`: the method is upper-cased, as the config's methods are.
int print_routes(const sidelight::routes::routing& routes,
                 const std::vector<std::string>& operands) {
    if (operands.empty()) {
        std::fputs(describe(routes).c_str(), stdout);
        return 0;
    }
    std::string method = operands.size() == 2 ? operands[0] : "GET";
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const auto line =
        describe_match(routes, sidelight::routes::parse_method(method), operands.back());
    std::printf("%s\n", line.c_str());
    return 0;
}

// `slo rules`: the rule file on stdout, or in --out (written whole, then renamed over it, so
// that a Prometheus watching the file never reads half of one).
int write_slo_rules(const command_line& cl, const sidelight::config::config& cfg) {
    if (cfg.slos.empty()) return fail(cfg.file + ": slos: none configured, no rules to write");
    const auto text = sidelight::agent::slo_rules(cfg, {cl.slo_crd, cl.slo_runbook_base});
    for (const auto& w : sidelight::agent::slo_rules_warnings(cfg))
        std::fprintf(stderr, "sidelight: warning: %s\n", w.c_str());
    if (cl.slo_out.empty()) {
        std::fputs(text.c_str(), stdout);
        return 0;
    }
    const auto partial = cl.slo_out + ".partial";
    std::ofstream file(partial);
    file << text;
    file.close();
    if (!file) return fail(partial + ": cannot write");
    std::error_code ec;
    std::filesystem::rename(partial, cl.slo_out, ec);
    if (ec) return fail(cl.slo_out + ": cannot write: " + ec.message());
    return 0;
}

// `sidelight audit verify|export|query|keygen`. Log lines (a schema upgrade at open) go to
// stderr: stdout carries the report, the export and the query output.
int audit_command(const command_line& cl) {
    sidelight::agent::setup_logging(cl.log_level.empty() ? "info" : cl.log_level,
                                    sidelight::config::log_format::automatic);
    return sidelight::audit::run_audit_command(cl.audit, std::cout, std::cerr);
}

// `run`, `check`, `routes` and `slo rules`: the same preflight first (agent/preflight.hpp), so that
// check refuses what run would refuse, with the same message.
int config_command(const command_line& cl) {
    sidelight::rules::jwt_stats jwt_counts;  // outlives the app and every rule set it loads
    sidelight::agent::preflight_result checked;
    try {
        checked = sidelight::agent::preflight(cl.config_path, &jwt_counts);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    if (cl.cmd == command::check) {
        sidelight::config::dump(*checked.cfg, std::cout);
        return 0;
    }
    if (cl.cmd == command::routes) return print_routes(*checked.routes, cl.operands);
    if (cl.cmd == command::slo_rules) return write_slo_rules(cl, *checked.cfg);
    sidelight::agent::setup_logging(cl.log_level.empty() ? checked.cfg->log_level : cl.log_level,
                                    checked.cfg->log_format);
    sidelight::agent::block_signals();
    try {
        sidelight::agent::app app(std::move(checked), jwt_counts);
        if (!cl.log_level.empty()) app.keep_log_level();  // --log-level wins over the file's
        return app.run();
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: {}", e.what());
        return fail(e.what());
    }
}

bool read_all(const std::string& path, std::string& text) {
    std::stringstream s;
    if (path == "-") {
        s << std::cin.rdbuf();
        text = s.str();
        return !std::cin.bad();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    s << in.rdbuf();
    text = s.str();
    return true;
}

// `inject` and `uninject`: the whole stream is read and transformed before a byte is written,
// so that a refusal leaves stdout empty.
int inject_command(const command_line& cl) {
    auto opts = cl.inject.opts;
    opts.file_name = cl.inject.file == "-" ? "<stdin>" : cl.inject.file;
    std::string text;
    if (!read_all(cl.inject.file, text)) return fail(opts.file_name + ": cannot read");
    if (!cl.inject.config_file.empty()) {
        std::string config;
        if (!read_all(cl.inject.config_file, config))
            return fail(cl.inject.config_file + ": cannot read");
        opts.config_text = config;
        opts.config_file = cl.inject.config_file;
    }
    const auto r = cl.cmd == command::inject ? sidelight::inject::inject(text, opts)
                                             : sidelight::inject::uninject(text, opts);
    if (!r.ok) return fail(r.error);
    for (const auto& note : r.notes) std::fprintf(stderr, "sidelight: %s\n", note.c_str());
    const auto out =
        cl.inject.dry_run ? sidelight::inject::diff(text, r.output, opts.file_name) : r.output;
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = sidelight::agent::parse_command_line(argc, argv, std::cout, std::cerr);
    if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
    const auto& cl = std::get<command_line>(parsed);
    switch (cl.cmd) {
        case command::run:
        case command::check:
        case command::routes:
        case command::slo_rules:
            return config_command(cl);
        case command::loadtest:
            return sidelight::loadtest::run_loadtest(cl.loadtest, std::cout, std::cerr);
        case command::report:
            return sidelight::loadtest::run_report(cl.report, std::cout, std::cerr);
        case command::inject:
        case command::uninject:
            return inject_command(cl);
        default:
            return audit_command(cl);
    }
}
