// Running a plan's scenarios and reporting them (run.hpp).
#include "loadtest/run.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "config/load.hpp"
#include "loadtest/descriptor_limit.hpp"
#include "loadtest/engine.hpp"
#include "loadtest/metrics_compare.hpp"
#include "loadtest/report.hpp"

namespace sidelight::loadtest {
namespace {

// Ctrl-C: the running scenario ends as at the end of its duration, no further one starts, and
// what ran is reported.
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_interrupt(int) {
    interrupted.store(true);
}

void catch_interrupt() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

load_job job_for(const plan& p, const scenario& s, std::chrono::milliseconds duration) {
    load_job job;
    job.request = &s.request;
    job.target = s.target.value_or(p.target);
    job.pacing = s.kind;
    job.duration = duration;
    job.connections = s.connections;
    job.rate = s.rate;
    job.timeout = s.timeout;
    job.cold = s.cold;
    job.warm = s.warm;
    job.cancel = &interrupted;
    return job;
}

// The live line, redrawn about four times a second while the threads run (p95: the highest of
// the threads' own, for a parallel scenario).
void draw_progress(const scenario& s, std::chrono::steady_clock::duration elapsed,
                   const std::vector<live_counters>& live, bool final_line) {
    std::uint64_t responses = 0, errors = 0, p95 = 0;
    for (const auto& l : live) {
        responses += l.responses.load(std::memory_order_relaxed);
        errors += l.errors.load(std::memory_order_relaxed);
        p95 = std::max<std::uint64_t>(p95, l.p95_us.load(std::memory_order_relaxed));
    }
    const double secs = std::chrono::duration<double>(elapsed).count();
    std::fprintf(stderr, "\r\033[K%-16s %6.1fs %10.0f req/s  p95 %8.2f ms  errors %llu%s",
                 s.name.c_str(), secs, secs > 0 ? static_cast<double>(responses) / secs : 0.0,
                 static_cast<double>(p95) / 1000.0, static_cast<unsigned long long>(errors),
                 final_line ? "\n" : "");
}

// One job per thread: a scenario's connections (and rate) split over its threads.
struct thread_job {
    load_job job;
    std::size_t part;  // which scenario of a parallel one (0 otherwise)
};

std::vector<thread_job> thread_jobs(const plan& p, const std::vector<const scenario*>& parts,
                                    std::chrono::milliseconds duration) {
    std::vector<thread_job> jobs;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const scenario& s = *parts[i];
        for (std::uint32_t t = 0; t < s.threads; ++t) {
            load_job job = job_for(p, s, duration);
            job.connections = s.connections / s.threads + (t < s.connections % s.threads ? 1 : 0);
            job.rate = s.rate * job.connections / s.connections;
            job.thread_index = t;
            job.thread_count = s.threads;
            jobs.push_back({job, i});
        }
    }
    return jobs;
}

// Runs the jobs, one thread each, drawing the live line meanwhile.
std::vector<run_result> run_jobs(const scenario& s, const std::vector<thread_job>& jobs,
                                 bool progress) {
    std::vector<live_counters> live(jobs.size());
    std::vector<run_result> results(jobs.size());
    std::vector<std::thread> threads;
    std::atomic<std::size_t> finished{0};
    for (std::size_t i = 0; i < jobs.size(); ++i)
        threads.emplace_back([&, i] {
            results[i] = run_load(jobs[i].job, live[i]);
            ++finished;
        });
    const auto start = std::chrono::steady_clock::now();
    auto next_draw = start + std::chrono::milliseconds(250);
    while (progress && finished.load() < jobs.size()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const auto now = std::chrono::steady_clock::now();
        if (now < next_draw) continue;
        draw_progress(s, now - start, live, false);
        next_draw += std::chrono::milliseconds(250);
    }
    for (auto& t : threads) t.join();
    if (progress) draw_progress(s, std::chrono::steady_clock::now() - start, live, true);
    return results;
}

scenario_outcome run_scenario(const plan& p, const scenario& s, bool progress) {
    std::vector<const scenario*> parts;
    if (s.kind == scenario_kind::parallel)
        for (auto m : s.members) parts.push_back(&p.scenarios[m]);
    else
        parts.push_back(&s);
    const auto jobs = thread_jobs(p, parts, s.duration);
    const auto results = run_jobs(s, jobs, progress);
    scenario_outcome outcome;
    outcome.spec = &s;
    std::vector<run_result> by_part(parts.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) by_part[jobs[i].part].add(results[i]);
    for (const auto& r : by_part) outcome.result.add(r);
    if (s.kind == scenario_kind::parallel) outcome.member_results = std::move(by_part);
    return outcome;
}

// Every endpoint the client sent to through the plan's target (sidelight), over all scenarios (a
// parallel scenario's members ran); a scenario with a target of its own went elsewhere.
std::vector<client_endpoint> endpoints(const plan& p,
                                       const std::vector<scenario_outcome>& outcomes) {
    std::vector<client_endpoint> out;
    for (const auto& o : outcomes) {
        const auto& s = *o.spec;
        if (s.target) continue;
        if (s.kind != scenario_kind::parallel) {
            out.push_back(
                {s.request.method, s.request.path, o.result.responses, o.result.uncorrected});
            continue;
        }
        for (std::size_t i = 0; i < o.member_results.size(); ++i) {
            const auto& member = p.scenarios[s.members[i]];
            if (member.target) continue;
            const auto& m = member.request;
            out.push_back(
                {m.method, m.path, o.member_results[i].responses, o.member_results[i].uncorrected});
        }
    }
    return out;
}

bool write_file(const std::string& path, const std::string& text, std::ostream& err) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) err << "sidelight: loadtest: cannot write " << path << "\n";
    return static_cast<bool>(f);
}

// The second scrape, and the per-route table beside the client's figures. The proxy records a
// request after its answer is written, so the last answers the client read may not be counted
// yet: scrape again (every 100 ms, for up to 5 s) until every route has at least the client's
// count; a route still short then is a real disagreement.
void print_comparison(const std::string& url, const std::string& before, const plan& p,
                      const std::vector<scenario_outcome>& outcomes, std::ostream& out,
                      std::ostream& err) {
    const auto client = endpoints(p, outcomes);
    const auto base = parse_route_figures(before);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<route_comparison> rows;
    for (;;) {
        std::string error;
        const auto after = scrape(url, error);
        if (!after) {
            err << "sidelight: --compare-metrics: " << error << "\n";
            return;
        }
        rows = compare(base, parse_route_figures(*after), client);
        const bool caught_up = std::all_of(rows.begin(), rows.end(), [](const auto& r) {
            return r.server_count >= static_cast<double>(r.client_count);
        });
        if (caught_up || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    out << "\n" << format_comparison(rows);
}

}  // namespace

int run_loadtest(const loadtest_args& args, std::ostream& out, std::ostream& err) {
    plan p;
    try {
        p = load_plan(args.file);
        check_descriptor_limit(p, raise_descriptor_limit());
    } catch (const config::config_error& e) {
        err << "sidelight: " << e.what() << "\n";
        return 2;
    }
    std::optional<std::string> before;
    if (!args.metrics_url.empty()) {
        std::string error;
        before = scrape(args.metrics_url, error);
        if (!before) {
            err << "sidelight: --compare-metrics: " << error << "\n";
            return 2;
        }
    }
    const bool progress = !args.quiet && isatty(STDERR_FILENO);
    std::vector<scenario_outcome> outcomes;
    catch_interrupt();
    for (const auto& s : p.scenarios)
        if (!interrupted.load()) outcomes.push_back(run_scenario(p, s, progress));
    for (auto& o : outcomes) judge(o, outcomes);  // after all: a ratio may look ahead
    out << format_table(outcomes);
    if (before) print_comparison(args.metrics_url, *before, p, outcomes, out, err);
    bool written = true;
    if (!args.json_path.empty())
        written &= write_file(args.json_path, format_json(p, outcomes, !interrupted.load()), err);
    if (!args.markdown_path.empty())
        written &= write_file(args.markdown_path, format_markdown(p, outcomes), err);
    bool passed = true;
    for (const auto& o : outcomes) passed = passed && o.passed();
    if (interrupted.load()) {
        err << "sidelight: loadtest: interrupted; the figures above are partial\n";
        return 130;
    }
    return passed && written ? 0 : 1;
}

}  // namespace sidelight::loadtest
