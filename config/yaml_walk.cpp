// The YAML walking helpers shared by the section parsers: positions, key checks, typed scalars.
#include "config/yaml_walk.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <map>

#include "util/utf8.hpp"

namespace sidelight::config::detail {
namespace {

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "\"" + node.Scalar() + "\"";
        default:
            return "nothing";
    }
}

std::string allowed_list(const std::vector<std::string_view>& keys) {
    std::string out;
    for (auto key : keys) {
        if (!out.empty()) out += ", ";
        out += key;
    }
    return out;
}

// A value's position: a null value (`key:` with nothing after it) has no useful mark of its
// own, so it takes the key's.
node_ref make_child(const node_ref& parent, const YAML::Node& key, const YAML::Node& value) {
    std::string path = parent.path.empty() ? key.Scalar() : parent.path + "." + key.Scalar();
    source_mark mark = to_mark(parent.mark.file, value.IsNull() ? key.Mark() : value.Mark());
    return node_ref{value, std::move(path), std::move(mark)};
}

}  // namespace

source_mark to_mark(const source_file& file, const YAML::Mark& mark) {
    if (mark.is_null() || mark.line < 0) return source_mark{file, 1, 1};
    return source_mark{file, mark.line + 1, mark.column + 1};
}

void node_ref::fail(const std::string& message) const {
    throw config_error(mark, path, message);
}

std::string node_ref::scalar() const {
    if (!node.IsScalar()) fail("expected a value, got " + describe(node));
    std::string error;
    auto expanded = expand_env(node.Scalar(), error);
    if (!expanded) fail(error);
    // Every value ends up in text that must be UTF-8: metric labels, logs, JSON, the store.
    if (!util::is_valid_utf8(*expanded)) fail("not valid UTF-8 text");
    return *expanded;
}

node_ref node_ref::item(std::size_t index) const {
    YAML::Node child = node[index];
    return node_ref{child, path + "[" + std::to_string(index) + "]",
                    child.IsNull() ? mark : to_mark(mark.file, child.Mark())};
}

std::vector<map_entry> map_entries(const node_ref& map) {
    std::vector<map_entry> entries;
    if (map.is_null()) return entries;
    if (!map.node.IsMap()) map.fail("expected a map, got " + describe(map.node));
    std::map<std::string, source_mark> seen;
    for (auto it = map.node.begin(); it != map.node.end(); ++it) {
        source_mark key_mark = to_mark(map.mark.file, it->first.Mark());
        node_ref child = make_child(map, it->first, it->second);
        if (!it->first.IsScalar())
            throw config_error(key_mark, map.path, "keys must be plain strings");
        auto [first, inserted] = seen.emplace(it->first.Scalar(), key_mark);
        if (!inserted) {
            throw config_error(key_mark, child.path,
                               "duplicate key (first defined at line " +
                                   std::to_string(first->second.line) + ", column " +
                                   std::to_string(first->second.column) + ")");
        }
        entries.push_back(map_entry{it->first.Scalar(), key_mark, std::move(child)});
    }
    return entries;
}

map_reader::map_reader(const node_ref& map, std::initializer_list<std::string_view> allowed)
    : map_(map), entries_(map_entries(map)) {
    std::vector<std::string_view> keys(allowed);
    for (const auto& entry : entries_) {
        bool known = false;
        for (auto key : keys) known = known || key == entry.key;
        if (!known) {
            throw config_error(entry.key_mark, entry.value.path,
                               "unknown key (expected one of " + allowed_list(keys) + ")");
        }
    }
}

std::optional<node_ref> map_reader::get(std::string_view key) const {
    for (const auto& entry : entries_)
        if (entry.key == key) return entry.value;
    return std::nullopt;
}

node_ref map_reader::require(std::string_view key) const {
    if (auto value = get(key)) return *value;
    std::string path = map_.path.empty() ? std::string(key) : map_.path + "." + std::string(key);
    throw config_error(map_.mark, path, "missing required key");
}

std::size_t list_size(const node_ref& list) {
    if (list.is_null()) return 0;
    if (!list.node.IsSequence()) list.fail("expected a list, got " + describe(list.node));
    return list.node.size();
}

std::vector<node_ref> list_items(const node_ref& list) {
    std::vector<node_ref> items;
    const std::size_t count = list_size(list);
    items.reserve(count);
    for (std::size_t i = 0; i < count; ++i) items.push_back(list.item(i));
    return items;
}

std::string to_string(const node_ref& n) {
    return n.scalar();
}

std::string to_nonempty_string(const node_ref& n) {
    std::string text = n.scalar();
    if (text.empty()) n.fail("must not be empty");
    return text;
}

bool to_bool(const node_ref& n) {
    std::string text = n.scalar();
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    n.fail("expected a boolean (true or false), got \"" + n.scalar() + "\"");
}

std::uint64_t to_uint(const node_ref& n, std::uint64_t low, std::uint64_t high) {
    std::string text = n.scalar();
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    std::string range = "between " + std::to_string(low) + " and " + std::to_string(high);
    if (!text.empty() && text.front() == '-') n.fail("must not be negative (" + range + ")");
    if (ec == std::errc::result_out_of_range) n.fail("number too large (" + range + ")");
    if (ec != std::errc{} || end != text.data() + text.size())
        n.fail("expected a whole number, got \"" + text + "\"");
    if (value < low || value > high) n.fail("out of range: " + text + " (" + range + ")");
    return value;
}

duration to_duration(const node_ref& n, bool allow_zero) {
    std::string text = n.scalar();
    auto value = parse_duration(text);
    if (!value) n.fail("expected a duration like 500ms, 5s, 1m30s or 1h, got \"" + text + "\"");
    if (!allow_zero && value->count() == 0) n.fail("must be greater than 0");
    // Deadlines are computed in nanoseconds from now: far beyond this they would overflow.
    if (*value > max_duration) n.fail("too large: at most 87600h (10 years), got \"" + text + "\"");
    return *value;
}

std::uint64_t to_size(const node_ref& n, std::uint64_t low, std::uint64_t high) {
    std::string text = n.scalar();
    auto value = parse_size(text);
    if (!value) n.fail("expected a size like 512, 64KiB, 1MiB or 10KB, got \"" + text + "\"");
    if (*value < low) n.fail("must be at least " + std::to_string(low) + " bytes");
    if (*value > high) n.fail("too large: at most " + std::to_string(high) + " bytes");
    return *value;
}

address to_address(const node_ref& n, bool allow_port_zero) {
    std::string text = n.scalar();
    auto value = parse_address(text);
    if (!value) {
        const auto digits = std::string_view(text).substr(text.rfind(':') + 1);
        if (text.find(':') != std::string::npos && !digits.empty() &&
            digits.find_first_not_of("0123456789") == std::string_view::npos)
            if (digits.size() > 5 || std::stoul(std::string(digits)) > 65535)
                n.fail(allow_port_zero ? "port must be between 0 and 65535"
                                       : "port must be between 1 and 65535");
        n.fail("expected an address like 127.0.0.1:3000, [::1]:3000, name:3000 or :8080, got \"" +
               text + "\"");
    }
    if (!allow_port_zero && value->port == 0) n.fail("port must be between 1 and 65535");
    return *value;
}

address to_listen_address(const node_ref& n, bool allow_port_zero) {
    auto a = to_address(n, allow_port_zero);
    unsigned char buf[16];
    if (::inet_pton(AF_INET, a.host.c_str(), buf) != 1 &&
        ::inet_pton(AF_INET6, a.host.c_str(), buf) != 1)
        n.fail("\"" + a.host +
               "\" is not an IP address; a listener needs one (0.0.0.0, 127.0.0.1, [::], [::1], "
               "...)");
    return a;
}

std::string to_choice(const node_ref& n, std::initializer_list<std::string_view> choices) {
    std::string text = n.scalar();
    for (auto choice : choices)
        if (text == choice) return text;
    n.fail("expected one of " + join(choices, ", ") + ", got \"" + text + "\"");
}

std::vector<std::string> to_string_list(const node_ref& n) {
    std::vector<std::string> out;
    for (const auto& item : list_items(n)) out.push_back(to_nonempty_string(item));
    return out;
}

}  // namespace sidelight::config::detail
