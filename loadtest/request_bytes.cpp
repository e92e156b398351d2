// Building request bytes once, and filling `{{seq}}` / `{{random}}` in (request_bytes.hpp).
#include "loadtest/request_bytes.hpp"

#include "util/random.hpp"

namespace sidelight::loadtest {
namespace {

constexpr std::string_view seq_mark = "{{seq}}";
constexpr std::string_view random_mark = "{{random}}";

}  // namespace

std::vector<request_bytes::part> request_bytes::split(std::string_view text) {
    std::vector<part> parts;
    while (!text.empty()) {
        const auto open = text.find("{{");
        const bool is_seq =
            open != std::string_view::npos && text.substr(open).starts_with(seq_mark);
        const bool is_random =
            open != std::string_view::npos && text.substr(open).starts_with(random_mark);
        if (!is_seq && !is_random) {
            const auto upto = open == std::string_view::npos ? text.size() : open + 2;
            if (!parts.empty() && parts.back().kind == part_kind::text)
                parts.back().text.append(text.substr(0, upto));
            else
                parts.push_back({part_kind::text, std::string(text.substr(0, upto))});
            text.remove_prefix(upto);
            continue;
        }
        if (open > 0) parts.push_back({part_kind::text, std::string(text.substr(0, open))});
        parts.push_back({is_seq ? part_kind::seq : part_kind::random, {}});
        text.remove_prefix(open + (is_seq ? seq_mark.size() : random_mark.size()));
    }
    return parts;
}

request_bytes::request_bytes(const request_spec& spec, const target_address& target,
                             std::uint64_t first_seq, std::uint64_t seq_step)
    : seq_(first_seq - seq_step), seq_step_(seq_step) {
    path_ = split(spec.path);
    body_ = split(spec.body);
    const auto has_placeholder = [](const std::vector<part>& parts) {
        for (const auto& p : parts)
            if (p.kind != part_kind::text) return true;
        return false;
    };
    dynamic_ = has_placeholder(path_) || has_placeholder(body_);
    method_sp_ = spec.method + " ";
    after_path_ = " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& [name, value] : spec.headers) {
        if (name.size() == 4 && (name[0] | 0x20) == 'h' && (name[1] | 0x20) == 'o' &&
            (name[2] | 0x20) == 's' && (name[3] | 0x20) == 't')
            has_host = true;
        after_path_ += name + ": " + value + "\r\n";
    }
    if (!has_host)
        after_path_ = " HTTP/1.1\r\nHost: " + target.host_header + "\r\n" +
                      after_path_.substr(std::string_view(" HTTP/1.1\r\n").size());
    if (!dynamic_) {
        fixed_ = method_sp_ + spec.path + after_path_;
        if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT" ||
            spec.method == "PATCH")
            fixed_ += "Content-Length: " + std::to_string(spec.body.size()) + "\r\n";
        fixed_ += "\r\n" + spec.body;
    }
}

void request_bytes::fill(const std::vector<part>& parts, std::string& out) {
    for (const auto& p : parts) {
        switch (p.kind) {
            case part_kind::text:
                out += p.text;
                break;
            case part_kind::seq:
                out += std::to_string(seq_);
                break;
            case part_kind::random:
                out += std::to_string(util::random_u64());
                break;
        }
    }
}

std::string_view request_bytes::next() {
    if (!dynamic_) return fixed_;
    seq_ += seq_step_;
    out_.assign(method_sp_);
    fill(path_, out_);
    out_ += after_path_;
    body_text_.clear();
    fill(body_, body_text_);
    out_ += "Content-Length: ";
    out_ += std::to_string(body_text_.size());
    out_ += "\r\n\r\n";
    out_ += body_text_;
    return out_;
}

}  // namespace sidelight::loadtest
