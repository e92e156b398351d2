// Compiles route specs into a route_table: parse and validate every template (folding the case
// of literals unless routes.case_sensitive), place it in the trie (which finds duplicates and
// explicit-over-imported overrides), then number the routes in precedence order.

#include "routes/route_table.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "config/load.hpp"

namespace sidelight::routes {

namespace {

constexpr std::size_t slot_count = standard_method_count + 1;
using slot_mask = std::array<bool, slot_count>;  // methods, then "any"

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

std::string slot_text(std::size_t slot) {
    return slot == slot_count - 1 ? std::string("any method")
                                  : std::string(method_label(static_cast<http_method>(slot)));
}

std::string where(const config::source_mark& first, const config::source_mark& second) {
    if (first.file == second.file) return "line " + std::to_string(first.line);
    return first.file.str() + ":" + std::to_string(first.line);
}

// Built only for an error message: a key path kept per route cost an allocation per route.
std::string key_path_of(const config::route_spec& spec, std::size_t index, bool imported) {
    if (!imported) return "routes.entries[" + std::to_string(index) + "]";
    return "paths." + spec.path_template + "." +
           lower(spec.methods.empty() ? "" : spec.methods.front());
}

slot_mask slots_of(const config::route_spec& spec, const std::string& key_path) {
    slot_mask slots{};
    if (spec.methods.empty()) slots[slot_count - 1] = true;
    for (const auto& m : spec.methods) {
        const auto method = parse_method(m);
        if (method == http_method::other) {
            throw config::config_error(spec.mark, key_path,
                                       "unknown method '" + m +
                                           "' (use GET, HEAD, POST, PUT, DELETE, CONNECT, "
                                           "OPTIONS, TRACE or PATCH, upper case)");
        }
        slots[static_cast<std::size_t>(method)] = true;
    }
    return slots;
}

// A route placed in the trie, until finish() makes it an entry: only what the entry needs.
struct kept {
    const config::route_spec* spec = nullptr;
    std::string label;
    slot_mask slots{};
    std::uint32_t params = 0;  // index into route_table::param_sets_
    bool imported = false;
};

}  // namespace

// Builds the trie one route at a time. Two templates have the same shape (they match the same
// paths) exactly when they end at the same trie node, so duplicates and ambiguities are found
// where the route is placed: its end node's slot for a method already holds another route.
// Explicit entries are placed first; an imported one then yields a method an explicit entry
// holds, and conflicts only with another imported one. Only a small `kept` record per route
// lives until finish(): the parsed template of a route dies with its placement.
class route_table_builder {
  public:
    using node = route_table::node;

    route_table_builder(route_table& table, bool case_sensitive)
        : t_(table), case_sensitive_(case_sensitive) {
        t_.case_sensitive_ = case_sensitive;
        t_.nodes_.emplace_back();
        t_.param_sets_.emplace_back();  // [0]: no parameters
        param_ids_.emplace(std::vector<std::string>{}, 0);
    }

    void add(const std::vector<config::route_spec>& specs, bool imported) {
        for (std::size_t i = 0; i < specs.size(); ++i) add_one(specs[i], i, imported);
    }

    // Numbers the routes in precedence order and fills entries_.
    void finish() {
        sort_edges();
        std::vector<route_id> order;
        visit(order, kept_.size());
        std::vector<route_id> final_id(kept_.size() + 1, unmatched_route);
        t_.entries_.reserve(order.size());
        for (const route_id temp : order) {
            auto& k = kept_[temp - 1];
            route_entry e;
            e.id = static_cast<route_id>(t_.entries_.size() + 1);
            final_id[temp] = e.id;
            e.label = std::move(k.label);
            for (std::size_t s = 0; s + 1 < slot_count; ++s)
                if (k.slots[s]) e.methods.add(static_cast<http_method>(s));
            e.name = k.spec->name;
            e.params = k.params;
            e.line = static_cast<std::uint32_t>(k.spec->mark.line);
            e.column = static_cast<std::uint16_t>(k.spec->mark.column);
            e.file = file_id(k.spec->mark.file);
            e.imported = k.imported;
            t_.entries_.push_back(std::move(e));
        }
        kept_ = {};
        constexpr auto get = static_cast<std::size_t>(http_method::get);
        constexpr auto head = static_cast<std::size_t>(http_method::head);
        for (auto& slots : t_.slots_) {
            for (auto& id : slots) id = final_id[id];
            if (slots[head] == unmatched_route && slots[node::any_slot] == unmatched_route &&
                slots[get] != unmatched_route) {
                slots[head] = slots[get];  // see route_entry::head_as_get
                t_.entries_[slots[get] - 1].head_as_get = true;
            }
        }
        t_.nodes_.shrink_to_fit();
        t_.slots_.shrink_to_fit();
    }

  private:
    void add_one(const config::route_spec& spec, std::size_t index, bool imported) {
        const std::string key_path = key_path_of(spec, index, imported);
        auto tpl = parse_template(spec.path_template, spec.mark, key_path);
        auto slots = slots_of(spec, key_path);
        auto& owners = t_.slots_[end_slots(tpl)];
        for (std::size_t s = 0; s < slot_count; ++s) {
            if (!slots[s] || owners[s] == unmatched_route) continue;
            const kept& first = kept_[owners[s] - 1];
            if (imported && !first.imported)
                slots[s] = false;  // an explicit entry overrides an imported one
            else
                conflict(first, spec, key_path, tpl.label, s);
        }
        if (std::none_of(slots.begin(), slots.end(), [](bool b) { return b; })) return;
        kept_.push_back(
            {&spec, std::move(tpl.label), slots, param_set(std::move(tpl.param_names)), imported});
        const auto temp = static_cast<route_id>(kept_.size());
        for (std::size_t s = 0; s < slot_count; ++s)
            if (slots[s]) owners[s] = temp;
    }

    [[noreturn]] void conflict(const kept& first, const config::route_spec& second,
                               const std::string& key_path, const std::string& label,
                               std::size_t slot) const {
        const bool same = first.label == label;
        std::string message = (same ? "duplicate route '" : "ambiguous route '") + slot_text(slot) +
                              " " + label + "': ";
        message += same ? "already defined at " + where(first.spec->mark, second.mark)
                        : "matches the same paths as '" + first.label + "' defined at " +
                              where(first.spec->mark, second.mark);
        throw config::config_error(second.mark, key_path, message);
    }

    // Walks (creating what is missing) to the node the template ends at; returns the index in
    // slots_ of its slots: those of the node, or of its catch-all.
    std::uint32_t end_slots(const parsed_template& tpl) {
        std::uint32_t at = 0;
        bool catch_all = false;
        for (const auto& seg : tpl.segments) {
            catch_all = seg.type == template_segment::kind::catch_all;
            if (catch_all) break;
            at = seg.type == template_segment::kind::param
                     ? param_child(at)
                     : literal_child(at, case_sensitive_ ? seg.text : lower(seg.text));
        }
        std::uint32_t& index = catch_all ? t_.nodes_[at].catch_all : t_.nodes_[at].here;
        if (index == node::none) {
            index = static_cast<std::uint32_t>(t_.slots_.size());
            t_.slots_.emplace_back();
        }
        return index;
    }

    std::uint32_t param_set(std::vector<std::string> names) {
        const auto [it, fresh] =
            param_ids_.try_emplace(std::move(names), static_cast<std::uint32_t>(param_ids_.size()));
        if (fresh) t_.param_sets_.push_back(it->first);
        return it->second;
    }

    std::uint16_t file_id(const std::string& file) {
        for (std::size_t i = 0; i < t_.files_.size(); ++i)
            if (t_.files_[i] == file) return static_cast<std::uint16_t>(i);
        t_.files_.push_back(file);
        return static_cast<std::uint16_t>(t_.files_.size() - 1);
    }

    std::uint32_t param_child(std::uint32_t at) {
        if (t_.nodes_[at].param == node::none) {
            t_.nodes_[at].param = static_cast<std::uint32_t>(t_.nodes_.size());
            t_.nodes_.emplace_back();
        }
        return t_.nodes_[at].param;
    }

    // Edges are appended unsorted and found through a small open-addressing index of edge
    // numbers (a map keyed by strings cost about 70 bytes per literal; inserting each literal
    // in sorted place made a node with k literals cost O(k^2)). sort_edges() groups and sorts
    // them once, at the end.
    std::uint32_t literal_child(std::uint32_t at, std::string text) {
        const std::size_t mask = index_.size() - 1;
        for (std::size_t i = slot_of(at, text) & mask;; i = (i + 1) & mask) {
            const std::uint32_t e = index_[i];
            if (e == 0) break;
            const auto& edge = t_.edges_[e - 1];
            if (edge.parent == at && edge.text == text) return edge.child;
        }
        const auto child = static_cast<std::uint32_t>(t_.nodes_.size());
        t_.nodes_.emplace_back();
        t_.edges_.push_back({std::move(text), child, at});
        add_to_index(static_cast<std::uint32_t>(t_.edges_.size()));
        return child;
    }

    static std::size_t slot_of(std::uint32_t parent, std::string_view text) {
        return std::hash<std::string_view>{}(text) ^ (parent * 0x9E3779B97F4A7C15ull);
    }

    // Keeps the index at most half full, rebuilding it from the edges when it grows.
    void add_to_index(std::uint32_t edge_number) {
        if (edge_number * 2 > index_.size()) {
            index_.assign(index_.size() * 2, 0);
            for (std::uint32_t e = 1; e < edge_number; ++e) place(e);
        }
        place(edge_number);
    }

    void place(std::uint32_t edge_number) {
        const auto& edge = t_.edges_[edge_number - 1];
        const std::size_t mask = index_.size() - 1;
        std::size_t i = slot_of(edge.parent, edge.text) & mask;
        while (index_[i] != 0) i = (i + 1) & mask;
        index_[i] = edge_number;
    }

    // Sorts the edges by parent, then text (the order match() searches), and gives every node
    // its run.
    void sort_edges() {
        index_ = {};
        auto& edges = t_.edges_;
        std::sort(edges.begin(), edges.end(), [](const auto& a, const auto& b) {
            return a.parent != b.parent ? a.parent < b.parent : a.text < b.text;
        });
        for (std::uint32_t i = 0; i < edges.size(); ++i) {
            auto& n = t_.nodes_[edges[i].parent];
            if (n.edge_count == 0) n.first_edge = i;
            ++n.edge_count;
        }
        edges.shrink_to_fit();
    }

    // `seen` is indexed by temporary id: a route listed under several slots (GET,PUT) is
    // numbered once, in constant time (a search of `order` made the numbering quadratic).
    void collect(std::uint32_t slots_index, std::vector<route_id>& order,
                 std::vector<bool>& seen) const {
        if (slots_index == node::none) return;
        for (const route_id id : t_.slots_[slots_index]) {
            if (id != unmatched_route && !seen[id]) {
                seen[id] = true;
                order.push_back(id);
            }
        }
    }

    // Precedence order: depth first, literals (sorted) before the parameter before catch-alls.
    // An explicit stack: a 256-segment template must not recurse 256 frames deep per level.
    void visit(std::vector<route_id>& order, std::size_t route_count) {
        std::vector<bool> seen(route_count + 1, false);
        struct frame {
            std::uint32_t at;
            std::size_t next;  // next literal to descend into; edge_count: the param
            bool param_done;
        };
        std::vector<frame> stack{{0, 0, false}};
        collect(t_.nodes_[0].here, order, seen);
        while (!stack.empty()) {
            frame& f = stack.back();
            const node& n = t_.nodes_[f.at];
            std::uint32_t child = node::none;
            if (f.next < n.edge_count) {
                child = t_.edges_[n.first_edge + f.next++].child;
            } else if (!f.param_done) {
                f.param_done = true;
                child = n.param;
            }
            if (child != node::none) {
                collect(t_.nodes_[child].here, order, seen);
                stack.push_back({child, 0, false});
            } else if (f.next >= n.edge_count && f.param_done) {
                collect(n.catch_all, order, seen);
                stack.pop_back();
            }
        }
    }

    route_table& t_;
    const bool case_sensitive_;
    std::vector<kept> kept_;  // by temporary id - 1
    std::vector<std::uint32_t> index_ =
        std::vector<std::uint32_t>(1024, 0);  // edge numbers, 0: free
    std::map<std::vector<std::string>, std::uint32_t> param_ids_;
};

std::shared_ptr<const route_table> route_table::build(
    const std::vector<config::route_spec>& imported,
    const std::vector<config::route_spec>& explicit_entries, bool case_sensitive) {
    std::shared_ptr<route_table> table(new route_table);
    route_table_builder builder(*table, case_sensitive);
    builder.add(explicit_entries, false);  // first: an imported entry yields to them
    builder.add(imported, true);
    builder.finish();
    return table;
}

}  // namespace sidelight::routes
