#include "agent/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sidelight::agent {
namespace {

prometheus::MetricFamily one(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(m);
    return f;
}

struct stat_fields {
    double utime_ticks = 0, stime_ticks = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
};

stat_fields read_stat() {
    stat_fields s;
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    // Field 2 (comm) may contain spaces: parse from the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    for (int i = 3; rest >> field; ++i) {
        if (i == 14) s.utime_ticks = std::stod(field);
        if (i == 15) s.stime_ticks = std::stod(field);
        if (i == 22) s.start_ticks = std::stod(field);
        if (i == 23) s.vsize = std::stod(field);
        if (i == 24) s.rss_pages = std::stod(field);
    }
    return s;
}

double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
        if (key == "btime") {
            in >> value;
            return value;
        }
        in.ignore(4096, '\n');
    }
    return 0;
}

double open_fds() {
    std::error_code ec;
    double n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n > 0 ? n - 1 : 0;  // minus the directory handle used to list them
}

}  // namespace

std::vector<prometheus::MetricFamily> process_metrics::Collect() const {
    using prometheus::MetricType;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    const auto s = read_stat();
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    return {
        one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            MetricType::Counter, (s.utime_ticks + s.stime_ticks) / ticks),
        one("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
            s.rss_pages * page),
        one("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
            s.vsize),
        one("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open_fds()),
        one("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
            static_cast<double>(lim.rlim_cur)),
        one("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            MetricType::Gauge, boot_time_seconds() + s.start_ticks / ticks),
    };
}

}  // namespace sidelight::agent
