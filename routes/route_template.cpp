#include "routes/route_template.hpp"

#include <algorithm>

#include "config/load.hpp"
#include "routes/route_path.hpp"
#include "util/percent.hpp"

namespace sidelight::routes {

namespace {

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
}

class template_parser {
  public:
    template_parser(std::string_view text, const config::source_mark& mark,
                    const std::string& key_path)
        : text_(text), mark_(mark), key_path_(key_path) {}

    parsed_template run() {
        if (text_.empty() || text_.front() != '/') fail("must start with '/'");
        std::string_view rest = text_.substr(1);
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            segment(rest.substr(0, slash));
            if (slash == std::string_view::npos) break;
            rest.remove_prefix(slash + 1);
        }
        if (out_.param_names.size() > max_template_params) {
            fail("more than " + std::to_string(max_template_params) + " parameters");
        }
        if (out_.segments.size() > decoded_path::max_segments) fail("too many segments");
        if (out_.label.empty()) out_.label = "/";
        return std::move(out_);
    }

  private:
    [[noreturn]] void fail(const std::string& why) const {
        throw config::config_error(mark_, key_path_,
                                   "invalid route template '" + std::string(text_) + "': " + why);
    }

    void segment(std::string_view raw) {
        if (raw.empty()) return;
        if (!out_.segments.empty() &&
            out_.segments.back().type == template_segment::kind::catch_all) {
            fail("a catch-all {*name} must be the last segment");
        }
        if (raw.front() == ':') return param(raw.substr(1), template_segment::kind::param);
        if (raw.front() == '{') {
            if (raw.size() < 2 || raw.back() != '}')
                fail("unbalanced '{' in '" + std::string(raw) + "'");
            auto inner = raw.substr(1, raw.size() - 2);
            if (!inner.empty() && inner.front() == '*') {
                return param(inner.substr(1), template_segment::kind::catch_all);
            }
            return param(inner, template_segment::kind::param);
        }
        literal(raw);
    }

    void param(std::string_view name, template_segment::kind type) {
        if (name.empty()) fail("empty parameter name");
        if (!valid_name(name)) {
            fail("parameter name '" + std::string(name) + "' may only use [A-Za-z0-9_.-]");
        }
        const std::string n{name};
        if (std::find(out_.param_names.begin(), out_.param_names.end(), n) !=
            out_.param_names.end()) {
            fail("parameter '" + n + "' appears twice");
        }
        const bool all = type == template_segment::kind::catch_all;
        out_.param_names.push_back(n);
        out_.label += all ? "/{*" + n + "}" : "/{" + n + "}";
        out_.segments.push_back({type, n});
    }

    void literal(std::string_view raw) {
        if (raw.find_first_of("{}") != std::string_view::npos) {
            fail("unbalanced or misplaced brace in '" + std::string(raw) +
                 "' (a parameter must be a whole segment)");
        }
        std::string decoded(raw.size(), '\0');
        const auto n = util::percent_decode(raw, decoded.data());
        if (n < 0) fail("invalid percent escape in '" + std::string(raw) + "'");
        decoded.resize(static_cast<std::size_t>(n));
        if (decoded == "." || decoded == "..") fail("'.' and '..' segments are not allowed");
        out_.label += "/" + std::string(raw);
        out_.segments.push_back({template_segment::kind::literal, std::move(decoded)});
    }

    std::string_view text_;
    const config::source_mark& mark_;
    const std::string& key_path_;
    parsed_template out_;
};

}  // namespace

parsed_template parse_template(std::string_view text, const config::source_mark& mark,
                               const std::string& key_path) {
    return template_parser(text, mark, key_path).run();
}

}  // namespace sidelight::routes
