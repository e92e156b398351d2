#include "routes/route_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "config/load.hpp"

#include "routes/openapi.hpp"
#include "routes/route_path.hpp"

namespace sidelight::routes {

namespace {

const std::vector<std::string> no_names;

char fold(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Compares a stored literal (already lower case) with a request segment folded on the fly:
// no copy, so match() still does not allocate.
int compare_folded(std::string_view literal, std::string_view segment) {
    const std::size_t n = std::min(literal.size(), segment.size());
    for (std::size_t i = 0; i < n; ++i) {
        const char a = literal[i];
        const char b = fold(segment[i]);
        if (a != b) return static_cast<unsigned char>(a) < static_cast<unsigned char>(b) ? -1 : 1;
    }
    if (literal.size() == segment.size()) return 0;
    return literal.size() < segment.size() ? -1 : 1;
}

// A missing or unreadable OpenAPI file is a mistake in the config: say where it was named
// (the importer's own errors point into the OpenAPI file). Not a regular file (a FIFO would
// block the read) counts as unreadable.
void refuse_unreadable(const std::string& file, const config::source_mark& mark) {
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    std::string why;
    if (ec)
        why = ec.message();
    else if (!std::filesystem::is_regular_file(status))
        why = "not a regular file";
    else if (std::FILE* f = std::fopen(file.c_str(), "rb"))
        std::fclose(f);
    else
        why = std::error_code(errno, std::generic_category()).message();
    if (!why.empty())
        throw config::config_error(mark, "routes.openapi", "cannot read " + file + ": " + why);
}

}  // namespace

std::optional<std::string_view> param_list::find(std::string_view name) const {
    for (std::size_t i = 0; i < count_; ++i) {
        if (items_[i].name == name) return value(i);
    }
    return std::nullopt;
}

void param_list::add(std::string_view name, const decoded_path& path, std::size_t first,
                     std::size_t last) {
    std::size_t need = 0;
    for (std::size_t i = first; i < last; ++i) need += path[i].size() + (i > first ? 1 : 0);
    if (count_ == max_params || need > max_bytes - used_) {
        truncated_ = true;
        return;
    }
    const std::size_t start = used_;
    for (std::size_t i = first; i < last; ++i) {
        if (i > first) buf_[used_++] = '/';
        std::memcpy(buf_.data() + used_, path[i].data(), path[i].size());
        used_ += path[i].size();
    }
    items_[count_++] = {name, static_cast<std::uint16_t>(start),
                        static_cast<std::uint16_t>(used_ - start)};
}

// One depth-first walk of the trie. Every trie node sits at a fixed depth, so each node is
// visited at most once: the walk is bounded by the path length and the table size.
struct route_table::search {
    const route_table& table;
    http_method method;
    const decoded_path& path;
    std::array<std::uint16_t, max_template_params> param_segments{};
    std::size_t param_count = 0;
    std::size_t catch_from = 0;
    route_id found = unmatched_route;

    route_id pick(std::uint32_t slots_index) const {
        if (slots_index == node::none) return unmatched_route;
        const node::slots& slots = table.slots_[slots_index];
        if (method != http_method::other) {
            const route_id id = slots[static_cast<std::size_t>(method)];
            if (id != unmatched_route) return id;
        }
        return slots[node::any_slot];
    }

    bool take_catch_all(const node& n, std::size_t depth) {
        found = pick(n.catch_all);
        catch_from = depth;
        return found != unmatched_route;
    }

    std::uint32_t literal(const node& n, std::string_view segment) const {
        const auto first = table.edges_.begin() + n.first_edge;
        const auto last = first + n.edge_count;
        if (table.case_sensitive_) {
            const auto it = std::lower_bound(first, last, segment, [](const edge& e, auto s) {
                return std::string_view(e.text) < s;
            });
            return it != last && it->text == segment ? it->child : node::none;
        }
        const auto it = std::lower_bound(first, last, segment, [](const edge& e, auto s) {
            return compare_folded(e.text, s) < 0;
        });
        return it != last && compare_folded(it->text, segment) == 0 ? it->child : node::none;
    }

    bool walk(std::uint32_t index, std::size_t depth) {
        const node& n = table.nodes_[index];
        if (depth == path.size()) {
            found = pick(n.here);
            return found != unmatched_route || take_catch_all(n, depth);
        }
        if (const std::uint32_t child = literal(n, path[depth]);
            child != node::none && walk(child, depth + 1)) {
            return true;
        }
        if (n.param != node::none && param_count < param_segments.size()) {
            param_segments[param_count++] = static_cast<std::uint16_t>(depth);
            if (walk(n.param, depth + 1)) return true;
            --param_count;
        }
        return take_catch_all(n, depth);
    }
};

route_id route_table::match(http_method method, std::string_view target, param_list* params) const {
    if (params != nullptr) params->clear();
    if (nodes_.empty()) return unmatched_route;
    decoded_path path;
    if (path.parse(target) != decoded_path::status::ok) return unmatched_route;
    search s{*this, method, path};
    if (!s.walk(0, 0)) return unmatched_route;
    if (params != nullptr) {
        const auto& names = param_sets_[entries_[s.found - 1].params];
        for (std::size_t i = 0; i < s.param_count && i < names.size(); ++i) {
            params->add(names[i], path, s.param_segments[i], s.param_segments[i] + 1);
        }
        if (names.size() > s.param_count) {
            params->add(names.back(), path, s.catch_from, path.size());
        }
    }
    return s.found;
}

std::string_view route_table::label(route_id id) const {
    if (id == unmatched_route || id > entries_.size()) return unmatched_label;
    return entries_[id - 1].label;
}

const std::vector<std::string>& route_table::param_names(route_id id) const {
    if (id == unmatched_route || id > entries_.size()) return no_names;
    return param_sets_[entries_[id - 1].params];
}

config::source_mark route_table::mark(const route_entry& e) const {
    return {e.file < files_.size() ? files_[e.file] : std::string(), static_cast<int>(e.line),
            e.column};
}

std::shared_ptr<const route_table> route_table::build(const config::routes_config& routes,
                                                      const std::filesystem::path& config_dir) {
    std::vector<config::route_spec> imported;
    if (!routes.openapi_file.empty()) {
        std::filesystem::path file{routes.openapi_file};
        if (file.is_relative() && !config_dir.empty()) file = config_dir / file;
        refuse_unreadable(file.string(), routes.openapi_mark);
        imported = import_openapi(file.string());
    }
    return build(imported, routes.entries, routes.case_sensitive);
}

}  // namespace sidelight::routes
