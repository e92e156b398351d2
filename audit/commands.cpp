#include "audit/commands.hpp"

#include <CLI/CLI.hpp>

#include "audit/checkpoint.hpp"
#include "audit/cli.hpp"
#include "audit/event_api.hpp"

namespace sidelight::audit {
namespace {

constexpr const char* query_footer = R"(QUERY is the query string of GET /v1/events:
  table=audit_log|security_audit  user_id=  entity_type=  entity_id=  event_type=
  since=TIME  until=TIME (ISO-8601 UTC, e.g. 2026-11-01T00:00:00Z)  after_seq=N  limit=1..1000
e.g. --filter 'table=audit_log&user_id=u7&since=2026-11-01T00:00:00Z&limit=50')";

void add_store_option(CLI::App& app, audit_args& args) {
    app.add_option("--store", args.store,
                   "the audit store: a SQLite file (it must exist), or a Postgres connection "
                   "string or URI")
        ->type_name("PATH|DSN")
        ->required();
    app.add_option("--chain", args.chain, "Postgres: this writer's chain only (default: all)")
        ->type_name("NAME");
}

}  // namespace

void add_audit_commands(CLI::App& parent, audit_args& args) {
    using command = audit_args::command;
    auto* verify = parent.add_subcommand(
        "verify",
        "recompute the hash chain: exit 0 intact, 1 broken (with checkpoints, a cut tail too)");
    add_store_option(*verify, args);
    verify
        ->add_option("--checkpoints", args.checkpoints, "checkpoint lines (JSON) to check against")
        ->type_name("FILE");
    verify
        ->add_option("--public-key", args.public_key,
                     "Ed25519 public key the checkpoints must be signed with")
        ->type_name("PEM");
    verify->callback([&args] { args.cmd = command::verify; });

    auto* query = parent.add_subcommand("query", "print matching events as one JSON array");
    add_store_option(*query, args);
    query->add_option("--filter", args.filter, "which events (default: the first 100)")
        ->type_name("QUERY");
    query->footer(query_footer);
    query->callback([&args] { args.cmd = command::query; });

    auto* exp = parent.add_subcommand("export", "every event as one JSON line, in commit order");
    add_store_option(*exp, args);
    exp->callback([&args] { args.cmd = command::export_rows; });

    auto* keygen =
        parent.add_subcommand("keygen", "write a new Ed25519 key pair for signed checkpoints");
    keygen
        ->add_option("--key", args.key,
                     "private key to write (mode 0600), for audit.checkpoint.key_file")
        ->type_name("PEM")
        ->required();
    keygen->add_option("--public-key", args.public_key, "public key to write, for audit verify")
        ->type_name("PEM")
        ->required();
    keygen->callback([&args] { args.cmd = command::keygen; });

    auto* grants = parent.add_subcommand(
        "pg-grants",
        "the SQL that lets a Postgres role append to the audit tables and nothing else (with "
        "--store, run it there as the tables' owner)");
    grants->add_option("--role", args.role, "the writer role (sidelight's DSN user)")
        ->type_name("NAME")
        ->required();
    grants->add_option("--store", args.store, "run the SQL on this Postgres (as its owner)")
        ->type_name("DSN");
    grants->callback([&args] { args.cmd = command::pg_grants; });
}

int run_audit_command(const audit_args& args, std::ostream& out, std::ostream& err) {
    using command = audit_args::command;
    switch (args.cmd) {
        case command::keygen:
            try {
                generate_checkpoint_key(args.key, *args.public_key);
            } catch (const std::exception& e) {
                err << "sidelight: " << e.what() << "\n";
                return 2;
            }
            out << "wrote " << args.key << " (private, 0600) and " << *args.public_key << "\n";
            return 0;
        case command::verify:
            return audit_verify_main({args.store, args.chain}, args.checkpoints, args.public_key,
                                     out, err);
        case command::export_rows:
            return audit_export_main({args.store, args.chain}, out, err);
        case command::pg_grants:
            return audit_pg_grants_main(args.role, args.store, out, err);
        case command::query: {
            std::string error;
            const auto filter = parse_query(args.filter, error);
            if (!filter) {
                err << "sidelight: --filter: " << error << "\n" << query_filter_help << "\n";
                return 2;
            }
            return audit_query_main({args.store, args.chain}, *filter, out, err);
        }
        case command::none:
            break;
    }
    err << "sidelight: audit needs a subcommand: verify, query, export, keygen or pg-grants\n";
    return 2;
}

}  // namespace sidelight::audit
