// route_table::build: template validation, duplicate and ambiguous entries, methods, and
// the merge of OpenAPI routes with explicit entries.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/load.hpp"
#include "routes/route_table.hpp"

namespace sidelight::routes {
namespace {

config::route_spec spec(std::string path, std::vector<std::string> methods = {}, int line = 1,
                        std::string file = "routes.yaml") {
    return {std::move(path), std::move(methods), {}, {std::move(file), line, 5}};
}

// The config_error thrown by building `entries` (after `imported`), or a failure.
config::config_error error_of(std::vector<config::route_spec> entries,
                              std::vector<config::route_spec> imported = {}) {
    try {
        route_table::build(imported, entries);
    } catch (const config::config_error& e) {
        return e;
    }
    ADD_FAILURE() << "no config_error";
    return config::config_error({}, "", "");
}

std::string message_of(std::string tpl) {
    return error_of({spec(std::move(tpl), {}, 12)}).what();
}

TEST(route_build, invalid_templates_are_rejected_with_their_line) {
    const auto e = error_of({spec("/ok"), spec("/a/{id", {}, 12)});
    EXPECT_EQ(e.mark().line, 12);
    EXPECT_EQ(e.mark().file, "routes.yaml");
    EXPECT_EQ(e.key_path(), "routes.entries[1]");
    EXPECT_NE(std::string(e.what()).find("unbalanced"), std::string::npos) << e.what();

    EXPECT_NE(message_of("/a/id}").find("brace"), std::string::npos);
    EXPECT_NE(message_of("/a/{}").find("empty parameter name"), std::string::npos);
    EXPECT_NE(message_of("/a/:").find("empty parameter name"), std::string::npos);
    EXPECT_NE(message_of("/a/{*}").find("empty parameter name"), std::string::npos);
    EXPECT_NE(message_of("/a/{*rest}/b").find("last segment"), std::string::npos);
    EXPECT_NE(message_of("a/b").find("must start with '/'"), std::string::npos);
    EXPECT_NE(message_of("").find("must start with '/'"), std::string::npos);
    EXPECT_NE(message_of("/a/x{id}").find("whole segment"), std::string::npos);
    EXPECT_NE(message_of("/a/{id}/{id}").find("twice"), std::string::npos);
    EXPECT_NE(message_of("/a/{i d}").find("may only use"), std::string::npos);
    EXPECT_NE(message_of("/a/../b").find("'..'"), std::string::npos);
    EXPECT_NE(message_of("/a/%zz").find("percent"), std::string::npos);
    EXPECT_NE(message_of("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}").find("more than 8"),
              std::string::npos);
}

TEST(route_build, unknown_or_lower_case_methods_are_rejected) {
    const auto e = error_of({spec("/a", {"get"}, 3)});
    EXPECT_EQ(e.mark().line, 3);
    EXPECT_NE(std::string(e.what()).find("unknown method 'get'"), std::string::npos);
    EXPECT_THROW(route_table::build({}, {spec("/a", {"PROPFIND"})}), config::config_error);
}

TEST(route_build, duplicate_names_the_first_line) {
    const auto e = error_of({spec("/a/{id}", {"GET", "POST"}, 4), spec("/a/:id", {"POST"}, 9)});
    EXPECT_EQ(e.mark().line, 9);
    EXPECT_EQ(e.key_path(), "routes.entries[1]");
    const std::string what = e.what();
    EXPECT_NE(what.find("duplicate route 'POST /a/{id}'"), std::string::npos) << what;
    EXPECT_NE(what.find("already defined at line 4"), std::string::npos) << what;
}

TEST(route_build, duplicate_any_method_entries) {
    const auto e = error_of({spec("/a/", {}, 2), spec("/a", {}, 3)});
    EXPECT_EQ(e.mark().line, 3);
    EXPECT_NE(std::string(e.what()).find("any method"), std::string::npos) << e.what();
}

TEST(route_build, ambiguous_param_names_are_rejected) {
    const auto e = error_of({spec("/a/{x}", {"GET"}, 7), spec("/a/{y}", {"GET"}, 8)});
    EXPECT_EQ(e.mark().line, 8);
    const std::string what = e.what();
    EXPECT_NE(what.find("ambiguous route 'GET /a/{y}'"), std::string::npos) << what;
    EXPECT_NE(what.find("'/a/{x}' defined at line 7"), std::string::npos) << what;

    const auto c = error_of({spec("/f/{*a}", {}, 1), spec("/f/{*b}", {}, 2)});
    EXPECT_EQ(c.mark().line, 2);
}

TEST(route_build, same_shape_with_disjoint_methods_is_fine) {
    const auto t = route_table::build(
        {}, {spec("/a/{x}", {"GET"}), spec("/a/{y}", {"DELETE"}), spec("/a/{z}")});
    param_list params;
    EXPECT_EQ(t->label(t->match(http_method::get, "/a/1", &params)), "/a/{x}");
    EXPECT_EQ(params.find("x"), "1");
    EXPECT_EQ(t->label(t->match(http_method::delete_, "/a/1", &params)), "/a/{y}");
    EXPECT_EQ(params.find("y"), "1");
    EXPECT_EQ(t->label(t->match(http_method::post, "/a/1")), "/a/{z}");
}

TEST(route_build, explicit_entries_override_imported_ones) {
    const std::vector<config::route_spec> imported{
        spec("/pets/{petId}", {"GET"}, 20, "api.yaml"),
        spec("/pets/{petId}", {"DELETE"}, 30, "api.yaml"), spec("/pets", {"GET"}, 10, "api.yaml")};
    const std::vector<config::route_spec> entries{spec("/pets/:id", {"GET"}, 3),
                                                  spec("/health", {}, 4)};
    const auto t = route_table::build(imported, entries);
    ASSERT_EQ(t->size(), 4u);
    param_list params;
    const auto get = t->match(http_method::get, "/pets/5", &params);
    EXPECT_EQ(t->label(get), "/pets/{id}");
    EXPECT_FALSE(t->entries()[get - 1].imported);
    EXPECT_EQ(params.find("id"), "5");
    const auto del = t->match(http_method::delete_, "/pets/5", &params);
    EXPECT_EQ(t->label(del), "/pets/{petId}");
    EXPECT_TRUE(t->entries()[del - 1].imported);
    EXPECT_EQ(t->mark(t->entries()[del - 1]).file, "api.yaml");
    EXPECT_EQ(t->mark(t->entries()[get - 1]).file, "routes.yaml");
    EXPECT_EQ(t->label(t->match(http_method::get, "/pets")), "/pets");
    EXPECT_EQ(t->label(t->match(http_method::put, "/health")), "/health");
}

TEST(route_build, imported_duplicates_are_errors_naming_the_file) {
    const auto e = error_of(
        {}, {spec("/a/{x}", {"GET"}, 5, "api.yaml"), spec("/a/{y}", {"GET"}, 9, "api.yaml")});
    EXPECT_EQ(e.mark().file, "api.yaml");
    EXPECT_EQ(e.mark().line, 9);
    EXPECT_EQ(e.key_path(), "paths./a/{y}.get");
    EXPECT_NE(std::string(e.what()).find("line 5"), std::string::npos) << e.what();
}

TEST(route_build, conflict_across_files_names_file_and_line) {
    const auto e = error_of({spec("/a", {}, 3), spec("/a", {}, 8, "other.yaml")});
    EXPECT_NE(std::string(e.what()).find("routes.yaml:3"), std::string::npos) << e.what();
}

TEST(route_build, relative_openapi_file_resolves_against_the_config_dir) {
    config::routes_config routes;
    routes.openapi_file = "does-not-exist.yaml";
    routes.openapi_mark = {"s.yaml", 4, 12};
    try {
        route_table::build(routes, "/nonexistent-dir");
        FAIL() << "no config_error";
    } catch (const config::config_error& e) {
        // Where the config names the file, and the file as resolved.
        EXPECT_STREQ(
            e.what(),
            "s.yaml:4:12: routes.openapi: cannot read /nonexistent-dir/does-not-exist.yaml: "
            "No such file or directory");
    }
}

// Many sibling literals under one node made the build quadratic; this pins that a large table
// still builds and every route matches its own paths (no timing asserted here: see
// bench_micro route_build/N and docs/BENCHMARKS.md).
TEST(route_build, one_hundred_thousand_routes_build_and_match) {
    constexpr int count = 100'000;
    std::vector<config::route_spec> entries;
    entries.reserve(count + 1);
    for (int i = 0; i < count; ++i)
        entries.push_back(spec("/api/v1/res" + std::to_string(i) + "/items/{id}", {"GET", "PUT"}));
    entries.push_back(spec("/api/v1/{kind}/items/{id}"));
    const auto t = route_table::build({}, entries);
    ASSERT_EQ(t->size(), count + 1u);
    param_list params;
    for (int i : {0, 1, 9, 10, 12'345, 54'321, count - 1}) {
        const auto id =
            t->match(http_method::put, "/api/v1/RES" + std::to_string(i) + "/items/x", &params);
        EXPECT_EQ(t->label(id), "/api/v1/res" + std::to_string(i) + "/items/{id}");
        EXPECT_EQ(params.find("id"), "x");
    }
    EXPECT_EQ(t->label(t->match(http_method::get, "/api/v1/res100000/items/x")),
              "/api/v1/{kind}/items/{id}");
    // Precedence order: the literal routes (sorted) before the parameter one, ids 1..size().
    EXPECT_EQ(t->entries().front().label, "/api/v1/res0/items/{id}");
    EXPECT_EQ(t->entries().back().label, "/api/v1/{kind}/items/{id}");
    for (std::size_t i = 0; i < t->entries().size(); ++i) ASSERT_EQ(t->entries()[i].id, i + 1);
}

}  // namespace
}  // namespace sidelight::routes
