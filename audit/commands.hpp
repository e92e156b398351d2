#pragma once
// The `audit` commands, defined once for both binaries that offer them: `sidelight audit ...`
// (agent/command_line.cpp) and the small `sidelight-audit ...` (audit/main.cpp), which links the
// store and no proxy code.
//
//   verify --store PATH|DSN [--chain NAME] [--checkpoints FILE] [--public-key PEM]
//   query  --store PATH|DSN [--chain NAME] [--filter QUERY]
//   export --store PATH|DSN [--chain NAME]
//   keygen --key PEM --public-key PEM
//   pg-grants --role NAME [--store DSN]
//
// --store is a SQLite file, or a Postgres connection string or URI (postgresql://…, or
// keyword=value pairs that name no existing file): then --chain picks one writer's chain, and
// without it verify and export go through every chain.
//
// add_audit_commands() adds them as subcommands of `parent` (CLI11), each filling `args` when
// it is the one parsed; run_audit_command() runs the parsed one (cli.hpp has the exit codes).
// What a command reports goes to `out` (stdout), diagnostics to `err` (stderr).
// Thread-safety: none needed; called once, from main.

#include <optional>
#include <ostream>
#include <string>

namespace CLI {
class App;
}

namespace sidelight::audit {

struct audit_args {
    enum class command { none, verify, query, export_rows, keygen, pg_grants };
    command cmd = command::none;
    std::string store;                 // verify, query, export, pg-grants
    std::optional<std::string> chain;  // Postgres: one chain
    std::optional<std::string> checkpoints;
    std::optional<std::string> public_key;  // verify: checks checkpoints; keygen: written
    std::string filter;                     // query
    std::string key;                        // keygen
    std::string role;                       // pg-grants
};

void add_audit_commands(CLI::App& parent, audit_args& args);

int run_audit_command(const audit_args& args, std::ostream& out, std::ostream& err);

}  // namespace sidelight::audit
