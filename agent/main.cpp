// sidelight's command line: `run` (default), `check`, `--version`, `--help`.
// Exit codes: 0 success, 1 runtime failure, 2 usage, configuration or startup error.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/app.hpp"
#include "agent/logging.hpp"
#include "audit/checkpoint.hpp"
#include "audit/cli.hpp"
#include "audit/event_api.hpp"
#include "audit/rule_set.hpp"
#include "config/load.hpp"
#include "proxy/route_table.hpp"
#include "proxy/routing.hpp"

namespace {

constexpr const char* usage = R"(usage: sidelight [run] [--config FILE] [--log-level LEVEL]
       sidelight check --config FILE
       sidelight routes --config FILE [METHOD] [PATH]
       sidelight audit verify --store PATH [--checkpoints FILE --public-key PEM]
       sidelight audit export --store PATH
       sidelight audit query --store PATH [--filter QUERY]
       sidelight audit keygen --key PEM --public-key PEM
       sidelight --version | --help

  run     start the proxy and the admin server (default)
  check   validate FILE, print the effective configuration, exit 0 (or 2 with the error)
  routes  print the compiled route table in precedence order, or which template
          METHOD PATH (default GET) maps to
  audit verify  recompute the hash chain: "OK <n> events ..." (exit 0) or the first broken
                row and why (exit 1); with signed checkpoints, a truncated tail too
  audit export  every event as one JSON line, in commit order
  audit query   a JSON array of events; QUERY as for GET /v1/events, e.g.
                "table=audit_log&user_id=u7&since=2026-11-01T00:00:00Z&limit=50"
  audit keygen  write a new Ed25519 key pair for signed checkpoints: the private key
                (mode 0600) for audit.checkpoint.key_file, the public one for verify

options:
  --config FILE       configuration file (default /etc/sidelight/sidelight.yaml)
  --log-level LEVEL   trace debug info warn error critical off (overrides log_level)
  --version           print the version
  --help              print this help

exit codes: 0 ok, 1 runtime failure or second shutdown signal, 2 usage/config/startup error
)";

struct options {
    std::string command = "run";
    std::vector<std::string> operands;  // `routes [METHOD] PATH`
    std::string config_path = "/etc/sidelight/sidelight.yaml";
    std::string log_level;
};

int fail(const std::string& message) {
    std::fprintf(stderr, "sidelight: %s\n", message.c_str());
    return 2;
}

int print_routes(const sidelight::proxy::route_table& table,
                 const std::vector<std::string>& operands) {
    using namespace sidelight::proxy;
    if (operands.empty()) {
        std::fputs(describe(table).c_str(), stdout);
        return 0;
    }
    const auto method = operands.size() == 2 ? parse_method(operands[0]) : http_method::get;
    std::printf("%s\n", describe_match(table, method, operands.back()).c_str());
    return 0;
}

}  // namespace

// `sidelight audit verify|export|query --store PATH ...`, `sidelight audit keygen ...`
int audit_command(const std::vector<std::string>& args) {
    // Log lines (a schema upgrade at open) go to stderr: stdout carries the export and query
    // output.
    sidelight::agent::setup_logging("info", sidelight::config::log_format::automatic);
    if (args.size() < 2) return fail(std::string("audit needs verify, query or export\n") + usage);
    std::string store, key;
    std::optional<std::string> checkpoints, public_key;
    std::string filter;
    for (std::size_t i = 2; i < args.size(); ++i) {
        if (i + 1 >= args.size()) return fail(args[i] + " needs a value");
        if (args[i] == "--store") {
            store = args[++i];
        } else if (args[i] == "--checkpoints") {
            checkpoints = args[++i];
        } else if (args[i] == "--public-key") {
            public_key = args[++i];
        } else if (args[i] == "--filter") {
            filter = args[++i];
        } else if (args[i] == "--key") {
            key = args[++i];
        } else {
            return fail("unknown argument '" + args[i] + "'\n" + usage);
        }
    }
    if (args[1] == "keygen") {
        if (key.empty() || !public_key) return fail("audit keygen needs --key and --public-key");
        try {
            sidelight::audit::generate_checkpoint_key(key, *public_key);
        } catch (const std::exception& e) {
            return fail(e.what());
        }
        std::printf("wrote %s (private, 0600) and %s\n", key.c_str(), public_key->c_str());
        return 0;
    }
    if (store.empty()) return fail("audit " + args[1] + " needs --store PATH");
    if (args[1] == "verify")
        return sidelight::audit::audit_verify_main(store, checkpoints, public_key, std::cout);
    if (args[1] == "export") return sidelight::audit::audit_export_main(store, std::cout);
    if (args[1] == "query") {
        std::string error;
        const auto f = sidelight::audit::parse_query(filter, error);
        if (!f) return fail("--filter " + error);
        return sidelight::audit::audit_query_main(store, *f, std::cout);
    }
    return fail("unknown audit command '" + args[1] + "'\n" + usage);
}

int main(int argc, char** argv) {
    options opt;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "audit") return audit_command(args);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (a == "--version") {
            std::printf("sidelight %s\n", SIDELIGHT_VERSION);
            return 0;
        }
        if ((a == "--config" || a == "-c" || a == "--log-level") && i + 1 >= args.size())
            return fail(a + " needs a value\n" + usage);
        if (a == "--config" || a == "-c") {
            opt.config_path = args[++i];
        } else if (a == "--log-level") {
            opt.log_level = args[++i];
        } else if (i == 0 && (a == "run" || a == "check" || a == "routes")) {
            opt.command = a;
        } else if (opt.command == "routes" && !a.starts_with("-") && opt.operands.size() < 2) {
            opt.operands.push_back(a);
        } else {
            return fail("unknown argument '" + a + "'\n" + usage);
        }
    }
    std::shared_ptr<const sidelight::config::config> cfg;
    std::unique_ptr<sidelight::proxy::routing> routes;
    try {
        cfg = sidelight::config::load_file(opt.config_path);
        routes = std::make_unique<sidelight::proxy::routing>(*cfg);       // templates, OpenAPI file
        sidelight::audit::rule_set rules(cfg, *routes);                   // rules name known routes
        sidelight::audit::make_checkpoint_signer(cfg->audit.checkpoint);  // as the writer will
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    if (opt.command == "check") {
        std::fputs(sidelight::config::dump(*cfg).c_str(), stdout);
        return 0;
    }
    if (opt.command == "routes") return print_routes(routes->table(), opt.operands);
    const std::string level = opt.log_level.empty() ? cfg->log_level : opt.log_level;
    sidelight::agent::setup_logging(level, cfg->log_format);
    sidelight::agent::block_signals();
    try {
        sidelight::agent::app app(cfg);
        return app.run();
    } catch (const std::exception& e) {
        spdlog::critical("startup failed: {}", e.what());
        return fail(e.what());
    }
}
