#include "routes/route_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "config/load.hpp"

namespace sidelight::routes {
namespace {

config::route_spec spec(std::string path, std::vector<std::string> methods = {},
                        std::string name = {}, int line = 0) {
    return {std::move(path), std::move(methods), std::move(name), {"routes.yaml", line, 3}};
}

std::shared_ptr<const route_table> table_of(std::vector<config::route_spec> entries) {
    config::routes_config routes;
    routes.entries = std::move(entries);
    return route_table::build(routes);
}

// The label of the route GET `target` matches.
std::string label_of(const route_table& t, std::string_view target,
                     http_method m = http_method::get) {
    return std::string(t.label(t.match(m, target)));
}

TEST(route_table, static_beats_param_beats_catch_all) {
    const auto t = table_of({spec("/files/{*rest}"), spec("/files/{name}"), spec("/files/new")});
    EXPECT_EQ(label_of(*t, "/files/new"), "/files/new");
    EXPECT_EQ(label_of(*t, "/files/report"), "/files/{name}");
    EXPECT_EQ(label_of(*t, "/files/a/b/c"), "/files/{*rest}");
    EXPECT_EQ(label_of(*t, "/other"), "unmatched");
}

TEST(route_table, dead_end_static_branch_falls_back_to_param) {
    const auto t = table_of({spec("/a/b/c"), spec("/a/{x}/d"), spec("/a/{*rest}")});
    EXPECT_EQ(label_of(*t, "/a/b/c"), "/a/b/c");
    EXPECT_EQ(label_of(*t, "/a/b/d"), "/a/{x}/d");
    EXPECT_EQ(label_of(*t, "/a/b/e"), "/a/{*rest}");
    EXPECT_EQ(label_of(*t, "/a/z/d"), "/a/{x}/d");
}

TEST(route_table, catch_all_matches_zero_or_more_segments_with_its_value) {
    const auto t = table_of({spec("/static/{*path}"), spec("/")});
    param_list params;
    ASSERT_EQ(t->label(t->match(http_method::get, "/static/css/site%20main.css", &params)),
              "/static/{*path}");
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params.name(0), "path");
    EXPECT_EQ(params.value(0), "css/site main.css");
    ASSERT_EQ(t->label(t->match(http_method::get, "/static", &params)), "/static/{*path}");
    EXPECT_EQ(params.find("path"), "");
    EXPECT_EQ(label_of(*t, "/"), "/");
    EXPECT_EQ(label_of(*t, ""), "unmatched");
}

TEST(route_table, method_specific_beats_any_method) {
    const auto t = table_of({spec("/orders/{id}"), spec("/orders/{id}", {"GET", "HEAD"}, "get"),
                             spec("/orders/{id}", {"DELETE"}, "cancel")});
    const auto any = t->match(http_method::post, "/orders/1");
    const auto get = t->match(http_method::get, "/orders/1");
    const auto del = t->match(http_method::delete_, "/orders/1");
    EXPECT_NE(any, unmatched_route);
    EXPECT_NE(get, any);
    EXPECT_NE(del, any);
    EXPECT_EQ(t->match(http_method::head, "/orders/1"), get);
    EXPECT_EQ(t->match(http_method::other, "/orders/1"), any);
    EXPECT_TRUE(t->entries()[any - 1].methods.empty());
    EXPECT_EQ(t->entries()[del - 1].name, "cancel");
    EXPECT_EQ(t->label(get), "/orders/{id}");
}

// A HEAD to a route listed for GET only is that route (frameworks answer HEAD with the GET
// handler); a route on the same template listing HEAD itself, or any method, takes it instead.
TEST(route_table, head_takes_the_get_route_when_none_lists_head) {
    const auto t =
        table_of({spec("/api/products/{id}", {"GET"}), spec("/api/products/featured", {"GET"}),
                  spec("/status", {"HEAD"}, "head"), spec("/status", {"GET"}, "get"), spec("/any"),
                  spec("/any", {"GET"}, "get-any")});
    const auto product = t->match(http_method::head, "/api/products/7");
    EXPECT_EQ(t->label(product), "/api/products/{id}");
    EXPECT_EQ(product, t->match(http_method::get, "/api/products/7"));
    EXPECT_EQ(label_of(*t, "/api/products/featured", http_method::head), "/api/products/featured");
    const auto& status_head = t->entries()[t->match(http_method::head, "/status") - 1];
    EXPECT_EQ(status_head.name, "head");
    const auto& status_get = t->entries()[t->match(http_method::get, "/status") - 1];
    EXPECT_FALSE(status_get.head_as_get);  // HEAD is another route's here
    EXPECT_FALSE(status_get.request_methods().contains(http_method::head));
    const auto& any_head = t->entries()[t->match(http_method::head, "/any") - 1];
    EXPECT_TRUE(any_head.methods.empty());  // the any-method route, as before
    EXPECT_FALSE(t->entries()[t->match(http_method::get, "/any") - 1].head_as_get);
    EXPECT_EQ(label_of(*t, "/api/products/7", http_method::post), "unmatched");
    const auto& e = t->entries()[product - 1];
    EXPECT_TRUE(e.head_as_get);
    EXPECT_TRUE(e.request_methods().contains(http_method::head));
    EXPECT_TRUE(e.request_methods().contains(http_method::get));
    EXPECT_FALSE(e.request_methods().contains(http_method::post));
    EXPECT_FALSE(e.methods.contains(http_method::head));  // as configured, for `sidelight routes`
}

TEST(route_table, method_mismatch_backtracks_to_the_next_branch) {
    const auto t = table_of({spec("/users/me", {"GET"}), spec("/users/{id}", {"PUT"})});
    EXPECT_EQ(label_of(*t, "/users/me", http_method::put), "/users/{id}");
    EXPECT_EQ(label_of(*t, "/users/me", http_method::get), "/users/me");
    EXPECT_EQ(label_of(*t, "/users/7", http_method::get), "unmatched");
}

TEST(route_table, params_in_both_syntaxes_with_values) {
    const auto t = table_of({spec("/api/orders/:order/items/{item}")});
    param_list params;
    const auto id = t->match(http_method::get, "/api/orders/42/items/sku-9?x=1", &params);
    ASSERT_NE(id, unmatched_route);
    EXPECT_EQ(t->label(id), "/api/orders/{order}/items/{item}");
    EXPECT_EQ(t->param_names(id), (std::vector<std::string>{"order", "item"}));
    ASSERT_EQ(params.size(), 2u);
    EXPECT_EQ(params.name(0), "order");
    EXPECT_EQ(params.value(0), "42");
    EXPECT_EQ(params.find("item"), "sku-9");
    EXPECT_EQ(params.find("nope"), std::nullopt);
    EXPECT_FALSE(params.truncated());
}

TEST(route_table, percent_decoding_per_segment) {
    const auto t =
        table_of({spec("/api/products/{id}"), spec("/api/products/new"), spec("/files/a%20b")});
    param_list params;
    EXPECT_EQ(t->label(t->match(http_method::get, "/api/products/%34%32", &params)),
              "/api/products/{id}");
    EXPECT_EQ(params.find("id"), "42");
    EXPECT_EQ(label_of(*t, "/api/products/n%65w"), "/api/products/new");
    EXPECT_EQ(label_of(*t, "/%61pi/products/new"), "/api/products/new");
    EXPECT_EQ(label_of(*t, "/files/a%20b"), "/files/a%20b");
    EXPECT_EQ(label_of(*t, "/files/a b"), "/files/a%20b");
}

TEST(route_table, encoded_slash_stays_inside_its_segment) {
    const auto t = table_of({spec("/repos/{name}"), spec("/repos/a/b")});
    param_list params;
    EXPECT_EQ(t->label(t->match(http_method::get, "/repos/a%2Fb", &params)), "/repos/{name}");
    EXPECT_EQ(params.find("name"), "a/b");
    EXPECT_EQ(label_of(*t, "/repos/a/b"), "/repos/a/b");
    EXPECT_EQ(label_of(*t, "/repos/a%2fb/c"), "unmatched");
}

TEST(route_table, invalid_escape_is_unmatched) {
    const auto t = table_of({spec("/api/{x}")});
    EXPECT_EQ(label_of(*t, "/api/%zz"), "unmatched");
    EXPECT_EQ(label_of(*t, "/api/%4"), "unmatched");
    EXPECT_EQ(label_of(*t, "/api/%"), "unmatched");
    EXPECT_EQ(label_of(*t, "/api/ok%41"), "/api/{x}");
}

TEST(route_table, traversal_never_climbs_above_root) {
    const auto t = table_of({spec("/admin"), spec("/api/{x}"), spec("/api/public/{x}")});
    EXPECT_EQ(label_of(*t, "/api/../../admin"), "/admin");
    EXPECT_EQ(label_of(*t, "/api/%2e%2e/%2E%2E/admin"), "/admin");
    EXPECT_EQ(label_of(*t, "/api/public/../x"), "/api/{x}");
    EXPECT_EQ(label_of(*t, "/./api/./public/./7"), "/api/public/{x}");
    EXPECT_EQ(label_of(*t, "/api/%2e/7"), "/api/{x}");
    EXPECT_EQ(label_of(*t, "/../../../admin"), "/admin");
    EXPECT_EQ(label_of(*t, "/api/.%2e/admin"), "/admin");
}

TEST(route_table, query_fragment_trailing_slash_and_empty_segments) {
    const auto t = table_of({spec("/a/b"), spec("/")});
    EXPECT_EQ(label_of(*t, "/a/b?x=/c/d#frag"), "/a/b");
    EXPECT_EQ(label_of(*t, "/a/b#/c"), "/a/b");
    EXPECT_EQ(label_of(*t, "/a/b/"), "/a/b");
    EXPECT_EQ(label_of(*t, "//a///b//"), "/a/b");
    EXPECT_EQ(label_of(*t, "/?q"), "/");
    EXPECT_EQ(label_of(*t, "/a/b%3Fx"), "unmatched");
}

TEST(route_table, absolute_form_targets_use_their_path_others_are_unmatched) {
    const auto t = table_of({spec("/a/b"), spec("/")});
    EXPECT_EQ(label_of(*t, "http://example.com/a/b?x"), "/a/b");
    EXPECT_EQ(label_of(*t, "HTTPS://example.com:8443/a/b/"), "/a/b");
    EXPECT_EQ(label_of(*t, "http://example.com"), "/");
    EXPECT_EQ(label_of(*t, "*", http_method::options), "unmatched");
    EXPECT_EQ(label_of(*t, "example.com:443", http_method::connect), "unmatched");
}

TEST(route_table, overlong_paths_are_unmatched) {
    const auto t = table_of({spec("/{*rest}")});
    std::string many;
    for (int i = 0; i < 300; ++i) many += "/s";
    EXPECT_EQ(label_of(*t, many), "unmatched");
    EXPECT_EQ(label_of(*t, "/" + std::string(9000, 'x')), "unmatched");
    EXPECT_EQ(label_of(*t, "/" + std::string(4000, 'x')), "/{*rest}");
}

TEST(route_table, long_param_values_are_dropped_not_the_match) {
    const auto t = table_of({spec("/blob/{data}")});
    param_list params;
    const auto id = t->match(http_method::get, "/blob/" + std::string(2000, 'z'), &params);
    EXPECT_EQ(t->label(id), "/blob/{data}");
    EXPECT_TRUE(params.truncated());
    EXPECT_EQ(params.size(), 0u);
}

TEST(route_table, ids_follow_precedence_and_zero_is_unmatched) {
    const auto t = table_of({spec("/b/{x}", {}, "bx", 4), spec("/a", {"GET"}, "a", 5),
                             spec("/b/c", {}, "bc", 6), spec("/{*all}", {}, "all", 7)});
    ASSERT_EQ(t->size(), 4u);
    const auto& e = t->entries();
    EXPECT_EQ(e[0].label, "/a");
    EXPECT_EQ(e[1].label, "/b/c");
    EXPECT_EQ(e[2].label, "/b/{x}");
    EXPECT_EQ(e[3].label, "/{*all}");
    for (std::size_t i = 0; i < e.size(); ++i) EXPECT_EQ(e[i].id, i + 1);
    EXPECT_EQ(t->label(0), "unmatched");
    EXPECT_EQ(t->label(99), "unmatched");
    EXPECT_TRUE(t->param_names(0).empty());
    EXPECT_EQ(t->mark(e[1]).line, 6);
}

TEST(route_table, empty_table_matches_nothing) {
    const auto t = table_of({});
    EXPECT_EQ(t->size(), 0u);
    EXPECT_EQ(t->match(http_method::get, "/"), unmatched_route);
}

TEST(route_table, describe_lists_entries_in_precedence_order) {
    const auto t = table_of(
        {spec("/orders/:id", {"GET", "PUT"}, "order", 9), spec("/orders/new", {}, "", 10)});
    EXPECT_EQ(describe(*t),
              "*        /orders/new   -      routes.yaml:10\n"
              "GET,PUT  /orders/{id}  order  routes.yaml:9\n");
    EXPECT_EQ(describe_match(*t, http_method::put, "/orders/7?x"),
              "PUT /orders/7?x -> GET,PUT /orders/{id} id=7 (order, routes.yaml:9)");
    EXPECT_EQ(describe_match(*t, http_method::post, "/orders/7"), "POST /orders/7 -> unmatched");
}

TEST(route_table, literals_ignore_ascii_case_by_default_and_labels_keep_the_template) {
    const auto t = table_of({spec("/api/products/{id}", {"PUT"}), spec("/Docs/Intro")});
    param_list params;
    for (const char* target : {"/API/products/7", "/api/Products/7", "/Api/PRODUCTS/7"}) {
        EXPECT_EQ(t->label(t->match(http_method::put, target, &params)), "/api/products/{id}")
            << target;
        EXPECT_EQ(params.find("id"), "7");
    }
    t->match(http_method::put, "/API/PRODUCTS/AbC-9", &params);
    EXPECT_EQ(params.find("id"), "AbC-9");  // values keep the client's case
    EXPECT_EQ(label_of(*t, "/docs/intro"), "/Docs/Intro");
    EXPECT_EQ(label_of(*t, "/DOCS/INTRO"), "/Docs/Intro");
    EXPECT_EQ(label_of(*t, "/docs/intro2"), "unmatched");
}

TEST(route_table, case_folding_keeps_literal_order_consistent) {
    // '_' (0x5F) sorts between upper and lower case letters: stored and searched folded alike.
    const auto t = table_of({spec("/Zeta"), spec("/alpha"), spec("/_under"), spec("/B2"),
                             spec("/b1"), spec("/%C3%A9t%C3%A9")});
    for (const char* target :
         {"/zeta", "/ZETA", "/Alpha", "/_UNDER", "/b2", "/B1", "/%C3%A9T%C3%A9", "/été"}) {
        EXPECT_NE(label_of(*t, target), "unmatched") << target;
    }
    // Only ASCII folds: "É" (C3 89) is not "é" (C3 A9).
    EXPECT_EQ(label_of(*t, "/%C3%89t%C3%A9"), "unmatched");
}

TEST(route_table, case_sensitive_tables_compare_bytes) {
    config::routes_config routes;
    routes.case_sensitive = true;
    routes.entries = {spec("/api/products/{id}"), spec("/api/Products/{id}")};
    const auto t = route_table::build(routes);
    EXPECT_EQ(label_of(*t, "/api/products/7"), "/api/products/{id}");
    EXPECT_EQ(label_of(*t, "/api/Products/7"), "/api/Products/{id}");
    EXPECT_EQ(label_of(*t, "/API/products/7"), "unmatched");
}

TEST(route_table, templates_differing_only_in_case_collide_when_case_insensitive) {
    try {
        table_of({spec("/api/products/{id}", {}, "", 4), spec("/API/Products/{x}", {}, "", 9)});
        FAIL() << "expected a config_error";
    } catch (const config::config_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "routes.yaml:9:3: routes.entries[1]: ambiguous route 'any method "
                  "/API/Products/{x}': matches the same paths as '/api/products/{id}' defined at "
                  "line 4");
    }
}

// A catch-all value joins decoded segments with '/': "x%2Fy/z" and "x/y/z" give the same value
// (the label is the template either way; docs/CONFIG.md says so).
TEST(route_table, catch_all_value_does_not_keep_an_encoded_slash_apart) {
    const auto t = table_of({spec("/files/{*rest}")});
    param_list params;
    EXPECT_EQ(t->label(t->match(http_method::get, "/files/x%2Fy/z", &params)), "/files/{*rest}");
    EXPECT_EQ(params.find("rest"), "x/y/z");
}

TEST(route_table, concurrent_matches_agree) {
    const auto t =
        table_of({spec("/api/products/{id}"), spec("/api/products/search"), spec("/api/{*rest}")});
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            param_list params;
            for (int k = 0; k < 2000; ++k) {
                const auto id =
                    t->match(http_method::get, "/api/products/" + std::to_string(k), &params);
                if (t->label(id) != "/api/products/{id}" ||
                    params.find("id") != std::to_string(k)) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace sidelight::routes
