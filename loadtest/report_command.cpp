// `sidelight report` (report_command.hpp): reading the inputs, writing the summary, the exit code.
#include "loadtest/report_command.hpp"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "loadtest/ci_summary.hpp"
#include "util/file.hpp"

namespace sidelight::loadtest {
namespace {

constexpr std::size_t max_input = 256u << 20;  // a JUnit file of a large suite stays far below

// A usage error: the message names the file; main's exit code is 2.
struct report_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string read_input(const std::string& path) {
    auto read = util::read_small_file(path, max_input);
    if (!read.ok()) throw report_error(path + ": cannot read: " + read.reason(max_input));
    return std::move(read.text);
}

std::string base_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

// $SOURCE_DATE_EPOCH (seconds since 1970, UTC) when set, as reproducible builds read it.
std::time_t report_time() {
    const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
    if (!epoch || !*epoch) return std::time(nullptr);
    char* end = nullptr;
    const long long t = std::strtoll(epoch, &end, 10);
    if (*end != '\0' || t < 0) throw report_error("SOURCE_DATE_EPOCH: expected seconds since 1970");
    return static_cast<std::time_t>(t);
}

summary_input read_inputs(const report_args& args) {
    summary_input in;
    in.loadtest_name = base_name(args.loadtest_path);
    try {
        in.run = parse_saved_run(read_input(args.loadtest_path));
    } catch (const report_error&) {
        throw;
    } catch (const std::exception& e) {
        throw report_error(args.loadtest_path + ": " + e.what());
    }
    for (const auto& path : args.junit_paths) {
        try {
            in.junit.push_back({base_name(path), parse_junit(read_input(path))});
        } catch (const report_error&) {
            throw;
        } catch (const std::exception& e) {
            throw report_error(path + ": " + e.what());
        }
    }
    if (!args.metrics_url.empty()) {
        std::string error;
        const auto text = scrape(args.metrics_url, error);
        if (!text) throw report_error("--metrics: " + error);
        in.metrics = metrics_rows(parse_route_figures(*text));
    }
    in.now = report_time();
    in.version = args.version;
    return in;
}

void write(const std::string& path, const std::string& text, std::ios::openmode mode) {
    std::ofstream f(path, std::ios::binary | mode);
    f << text;
    f.close();
    if (!f) throw report_error(path + ": cannot write");
}

}  // namespace

int run_report(const report_args& args, std::ostream& out, std::ostream& err) {
    try {
        const summary_input in = read_inputs(args);
        const std::string text = format_summary(in);
        if (args.out_path.empty())
            out << text;
        else
            write(args.out_path, text, std::ios::trunc);
        if (const char* step = std::getenv("GITHUB_STEP_SUMMARY"); step && *step)
            write(step, text + "\n", std::ios::app);
        return budgets_hold(in.run) ? 0 : 1;
    } catch (const report_error& e) {
        err << "sidelight: report: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace sidelight::loadtest
