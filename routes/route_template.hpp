#pragma once
// Parsing of route templates ("/api/orders/{id}", "/api/orders/:id", "/static/{*rest}") into
// segments, with the validation the route table and the OpenAPI importer share.
//
// Rules: a template starts with '/'; empty segments and a trailing '/' are dropped; a
// parameter is a whole segment, written `{name}` or `:name`; `{*name}` is a catch-all and may
// only be the last segment; names use [A-Za-z0-9_.-] and are unique within a template; literal
// segments may hold percent escapes (decoded for matching) but no '{' or '}', and may not be
// "." or "..". At most `max_template_params` parameters.
// Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sidelight::routes {

inline constexpr std::size_t max_template_params = 8;

struct template_segment {
    enum class kind : std::uint8_t { literal, param, catch_all };
    kind type = kind::literal;
    std::string text;  // decoded literal, or the parameter name
};

struct parsed_template {
    std::vector<template_segment> segments;
    std::string label;  // normalized: params as `{name}`, e.g. "/api/orders/{id}"; "/" for root
    std::vector<std::string> param_names;  // in path order, catch-all last
};

// Throws config::config_error(mark, key_path, ...) for an invalid template.
parsed_template parse_template(std::string_view text, const config::source_mark& mark,
                               const std::string& key_path);

}  // namespace sidelight::routes
