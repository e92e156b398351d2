#include "agent/command_line.hpp"

#include <array>
#include <memory>

#include <CLI/CLI.hpp>

namespace sidelight::agent {
namespace {

constexpr const char* top_footer =
    R"(sidelight with no command runs the proxy: `sidelight --config FILE` is `sidelight run
--config FILE`. --config and --log-level may come before or after the command.

exit codes: 0 ok, 1 runtime failure (a broken audit chain, a second shutdown signal),
            2 usage error, invalid configuration or startup failure)";

// --config and --log-level, on the top level and on each command that reads a config, so that
// they are accepted (and listed by --help) before and after the command name.
void add_config_options(CLI::App& app, command_line& cl) {
    app.add_option("-c,--config", cl.config_path, "configuration file")
        ->type_name("FILE")
        ->default_str(cl.config_path)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--log-level", cl.log_level, "overrides log_level from the configuration")
        ->type_name("LEVEL")
        ->check(CLI::IsMember(log_levels()))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void add_audit(CLI::App& top, command_line& cl) {
    auto* audit = top.add_subcommand("audit", "inspect the audit store, make checkpoint keys");
    audit::add_audit_commands(*audit, cl.audit);
    audit->callback([&cl] { cl.cmd = command::audit; });
}

void add_slo(CLI::App& top, command_line& cl) {
    auto* slo = top.add_subcommand("slo", "service level objectives: their Prometheus rules");
    auto* rules = slo->add_subcommand(
        "rules", "write the recording rules and burn-rate alerts of the config's slos");
    add_config_options(*rules, cl);
    rules->add_flag("--crd", cl.slo_crd,
                    "a monitoring.coreos.com/v1 PrometheusRule object instead of a rule file");
    rules->add_option("-o,--out", cl.slo_out, "write to FILE instead of stdout")->type_name("FILE");
    rules
        ->add_option("--runbook-base", cl.slo_runbook_base,
                     "runbook_url of the alerts: URL#<alert name, lower case>")
        ->type_name("URL")
        ->default_str(cl.slo_runbook_base);
    rules->callback([&cl] { cl.cmd = command::slo_rules; });
}

void add_loadtest(CLI::App& top, command_line& cl) {
    auto* lt = top.add_subcommand(
        "loadtest", "generate HTTP load from a plan, report latency percentiles and check asserts");
    auto& a = cl.loadtest;
    lt->add_option("-f,--file", a.file, "the load test plan (YAML)")->type_name("FILE")->required();
    lt->add_option("--json", a.json_path, "write every figure and verdict as JSON")
        ->type_name("FILE");
    lt->add_option("--markdown", a.markdown_path, "write the summary table as Markdown")
        ->type_name("FILE");
    lt->add_flag("-q,--quiet", a.quiet, "no live progress line");
    lt->add_option("--compare-metrics", a.metrics_url,
                   "scrape sidelight's /metrics before and after; compare per route")
        ->type_name("URL");
    lt->footer("exit codes: 0 every assertion holds, 1 an assertion fails, 2 usage error");
    lt->callback([&cl] { cl.cmd = command::loadtest; });
}

void add_report(CLI::App& top, command_line& cl) {
    auto* report = top.add_subcommand(
        "report", "write the CI summary (Markdown) of a load test's JSON and JUnit test results");
    auto& a = cl.report;
    a.version = SIDELIGHT_VERSION;
    report->add_option("--loadtest", a.loadtest_path, "the JSON of `sidelight loadtest --json`")
        ->type_name("FILE")
        ->required();
    report->add_option("--junit", a.junit_paths, "JUnit XML (ctest, GoogleTest); repeatable")
        ->type_name("FILE");
    report->add_option("--metrics", a.metrics_url, "sidelight's /metrics: per-route counts, P95")
        ->type_name("URL");
    report->add_option("-o,--out", a.out_path, "write to FILE instead of stdout")
        ->type_name("FILE");
    report->footer(
        "Also appended to $GITHUB_STEP_SUMMARY when set; $SOURCE_DATE_EPOCH fixes the timestamp.\n"
        "exit codes: 0 every budget holds, 1 a budget failed (or the run was interrupted), "
        "2 usage error");
    report->callback([&cl] { cl.cmd = command::report; });
}

void add_inject(CLI::App& top, command_line& cl) {
    auto& a = cl.inject;
    a.opts.image = std::string("sidelight:") + SIDELIGHT_VERSION;
    auto* inject = top.add_subcommand(
        "inject", "add sidelight to the Deployments, StatefulSets and DaemonSets of manifests");
    inject->add_option("-f,--file", a.file, "the manifests (YAML, several documents); - for stdin")
        ->type_name("FILE")
        ->required();
    inject
        ->add_option("-c,--config", a.config_file,
                     "sidelight's config, emitted as the ConfigMap <workload>-sidelight")
        ->type_name("FILE");
    inject->add_option("--port", a.opts.port, "the app's port (default: its declared one)")
        ->type_name("N")
        ->check(CLI::Range(1, 65535));
    inject
        ->add_option("--container", a.opts.container,
                     "the app's container when the pod has several")
        ->type_name("NAME");
    inject->add_flag("--service", a.opts.service,
                     "aim the stream's Services at sidelight-http, add a NetworkPolicy");
    inject->add_option("--image", a.opts.image, "sidelight's image")
        ->type_name("IMAGE")
        ->default_str(a.opts.image);
    inject->add_flag("--dry-run", a.dry_run, "print a diff of the change instead");
    inject->footer(
        "The manifests go to stdout, notes to stderr. Injecting twice changes nothing.\n"
        "exit codes: 0 written, 2 refused (nothing written) or usage error");
    inject->callback([&cl] { cl.cmd = command::inject; });

    auto* uninject =
        top.add_subcommand("uninject", "remove what `sidelight inject` added to manifests");
    uninject->add_option("-f,--file", a.file, "the manifests; - for stdin")
        ->type_name("FILE")
        ->required();
    uninject->add_flag("--dry-run", a.dry_run, "print a diff of the change instead");
    uninject->footer("exit codes: 0 written, 2 refused (nothing written) or usage error");
    uninject->callback([&cl] { cl.cmd = command::uninject; });
}

void build(CLI::App& top, command_line& cl) {
    top.set_version_flag("--version", std::string("sidelight ") + SIDELIGHT_VERSION,
                         "print the version");
    add_config_options(top, cl);

    auto* run = top.add_subcommand("run", "start the proxy and the admin server (the default)");
    add_config_options(*run, cl);
    run->callback([&cl] { cl.cmd = command::run; });

    auto* check = top.add_subcommand(
        "check", "validate the configuration as run would, print it with defaults filled in");
    add_config_options(*check, cl);
    check->callback([&cl] { cl.cmd = command::check; });

    auto* routes = top.add_subcommand(
        "routes",
        "print the route table in precedence order, or which route [METHOD] PATH maps to");
    add_config_options(*routes, cl);
    // `routes PATH` or `routes METHOD PATH`: two positionals, so that --help shows them by name.
    auto words = std::make_shared<std::array<std::string, 2>>();
    routes->add_option("METHOD", (*words)[0], "e.g. PUT (default GET; upper-cased)");
    routes->add_option("PATH", (*words)[1], "e.g. /api/products/42");
    routes->callback([&cl, words] {
        cl.cmd = command::routes;
        for (const auto& w : *words)
            if (!w.empty()) cl.operands.push_back(w);
    });

    add_slo(top, cl);
    add_audit(top, cl);
    add_loadtest(top, cl);
    add_report(top, cl);
    add_inject(top, cl);
    top.footer(top_footer);  // after the subcommands, which would inherit it
}

// The (sub)command the parse got deepest into: the one a usage error is about.
const CLI::App* deepest(const CLI::App& app) {
    const CLI::App* at = &app;
    while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
    return at;
}

std::string command_name(const CLI::App* app) {
    std::string name;
    for (; app; app = app->get_parent()) name = app->get_name() + (name.empty() ? "" : " ") + name;
    return name;
}

// `list_commands`: the word missing or wrong is a (sub)command name, and the list of those is
// the answer; otherwise the pointer to the command's --help is.
int usage_error(const CLI::App& top, const std::string& message, bool list_commands,
                std::ostream& err) {
    const auto* at = deepest(top);
    err << "sidelight: " << message << "\n";
    if (list_commands && !at->get_subcommands({}).empty()) {
        err << at->help(command_name(at->get_parent()));
    } else {
        err << "run `" << command_name(at) << " --help` for usage\n";
    }
    return 2;
}

}  // namespace

const std::vector<std::string>& log_levels() {
    static const std::vector<std::string> levels{"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    return levels;
}

std::variant<command_line, int> parse_command_line(int argc, const char* const* argv,
                                                   std::ostream& out, std::ostream& err) {
    command_line cl;
    CLI::App top("sidelight: an HTTP sidecar proxy with route metrics and an audit trail",
                 "sidelight");
    build(top, cl);
    try {
        top.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << top.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        out << top.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        out << e.what() << "\n";
        return 0;
    } catch (const CLI::ExtrasError& e) {
        return usage_error(top, e.what(), true, err);
    } catch (const CLI::ParseError& e) {
        return usage_error(top, e.what(), false, err);
    }
    for (const char* group : {"audit", "slo"})
        if (deepest(top)->get_name() == group)
            return usage_error(top, std::string(group) + " needs a subcommand", true, err);
    // Accepted before any command, but the audit commands read no configuration.
    if (top.got_subcommand("audit") && top.get_option("--config")->count() > 0)
        return usage_error(top, "--config: the audit commands take --store, not a config", false,
                           err);
    // Accepted before any command, but inject's --config is the one after `inject`.
    if ((top.got_subcommand("inject") || top.got_subcommand("uninject")) &&
        top.get_option("--config")->count() > 0)
        return usage_error(top, "--config: give inject's config after `inject`", false, err);
    return cl;
}

}  // namespace sidelight::agent
