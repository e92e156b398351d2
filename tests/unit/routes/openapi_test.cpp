#include "routes/openapi.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/load.hpp"
#include "routes/route_table.hpp"

namespace sidelight::routes {
namespace {

const std::filesystem::path data_dir =
    std::filesystem::path(SIDELIGHT_SOURCE_DIR) / "tests" / "data" / "openapi";

// 1-based number of the first line containing `needle` after the first one containing `after`.
int line_of(const std::filesystem::path& file, const std::string& after,
            const std::string& needle) {
    std::ifstream in(file);
    std::string line;
    bool seen = false;
    for (int n = 1; std::getline(in, line); ++n) {
        if (!seen) {
            seen = line.find(after) != std::string::npos;
        } else if (line.find(needle) != std::string::npos) {
            return n;
        }
    }
    return -1;
}

const config::route_spec* find(const std::vector<config::route_spec>& specs,
                               const std::string& method, const std::string& tpl) {
    const auto it = std::find_if(specs.begin(), specs.end(), [&](const auto& s) {
        return s.path_template == tpl && s.methods == std::vector<std::string>{method};
    });
    return it == specs.end() ? nullptr : &*it;
}

// Writes `text` to a fresh file in the test temp dir and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::path(testing::TempDir()) / ("sidelight-openapi-" + name);
    std::ofstream(path) << text;
    return path.string();
}

config::config_error import_error(const std::string& file) {
    try {
        import_openapi(file);
    } catch (const config::config_error& e) {
        return e;
    }
    ADD_FAILURE() << "no config_error for " << file;
    return config::config_error({}, "", "");
}

std::shared_ptr<const route_table> table_from(const std::string& file,
                                              std::vector<config::route_spec> entries = {}) {
    config::routes_config routes;
    routes.openapi_file = file;
    routes.entries = std::move(entries);
    return route_table::build(routes, data_dir);
}

TEST(openapi, imports_openapi3_yaml_with_server_prefix) {
    const auto file = (data_dir / "petstore-v3.yaml").string();
    const auto specs = import_openapi(file);
    EXPECT_EQ(specs.size(), 36u);
    const auto* get_pet = find(specs, "GET", "/api/v3/pet/{petId}");
    ASSERT_NE(get_pet, nullptr);
    EXPECT_EQ(get_pet->name, "getPetById");
    EXPECT_EQ(get_pet->mark.file, file);
    EXPECT_EQ(get_pet->mark.line, line_of(file, "  /pet/{petId}:", "    get:"));
    EXPECT_EQ(get_pet->mark.column, 5);
    ASSERT_NE(find(specs, "OPTIONS", "/api/v3/appointments/{appointmentId}"), nullptr);
    ASSERT_NE(find(specs, "HEAD", "/api/v3/health"), nullptr);
    EXPECT_EQ(find(specs, "GET", "/api/v3/health")->name, "");  // no operationId
    for (const auto& s : specs) {
        EXPECT_EQ(s.path_template.rfind("/api/v3/", 0), 0u) << s.path_template;
        EXPECT_EQ(s.path_template.find("legacy"), std::string::npos);  // $ref path item
        EXPECT_EQ(s.path_template.find("x-"), std::string::npos);
    }
}

TEST(openapi, petstore_routes_match_end_to_end) {
    const auto t = table_from("petstore-v3.yaml");
    param_list params;
    const auto id = t->match(http_method::get, "/api/v3/pet/42?x=1", &params);
    EXPECT_EQ(t->label(id), "/api/v3/pet/{petId}");
    EXPECT_EQ(params.find("petId"), "42");
    EXPECT_EQ(t->entries()[id - 1].name, "getPetById");
    EXPECT_TRUE(t->entries()[id - 1].imported);

    EXPECT_EQ(t->label(t->match(http_method::get, "/api/v3/pet/findByStatus?status=sold")),
              "/api/v3/pet/findByStatus");
    EXPECT_EQ(t->label(t->match(http_method::post, "/api/v3/store/order/7/cancel")),
              "/api/v3/store/order/{orderId}/cancel");
    EXPECT_EQ(t->label(t->match(http_method::delete_, "/api/v3/pet/3/photos/p%2D1", &params)),
              "/api/v3/pet/{petId}/photos/{photoId}");
    EXPECT_EQ(params.find("photoId"), "p-1");
    EXPECT_EQ(t->label(t->match(http_method::get, "/api/v3/user/me")), "/api/v3/user/me");
    // PUT /user/me has no static route: falls back to the {username} branch.
    EXPECT_EQ(t->label(t->match(http_method::put, "/api/v3/user/me")), "/api/v3/user/{username}");
    EXPECT_EQ(t->label(t->match(http_method::patch, "/api/v3/appointments/9")),
              "/api/v3/appointments/{appointmentId}");
    EXPECT_EQ(t->match(http_method::get, "/pet/42"), unmatched_route);
    EXPECT_EQ(t->match(http_method::get, "/api/v3/legacy/pets"), unmatched_route);
    EXPECT_EQ(t->match(http_method::patch, "/api/v3/pet/42"), unmatched_route);
}

TEST(openapi, explicit_entries_override_and_extend_imported_routes) {
    const auto t = table_from("petstore-v3.yaml",
                              {{"/api/v3/pet/:id", {"GET"}, "pet-by-id", {"sidelight.yaml", 14, 7}},
                               {"/api/v3/metrics/{*rest}", {}, "", {"sidelight.yaml", 15, 7}}});
    param_list params;
    const auto get = t->match(http_method::get, "/api/v3/pet/5", &params);
    EXPECT_EQ(t->label(get), "/api/v3/pet/{id}");
    EXPECT_EQ(t->entries()[get - 1].name, "pet-by-id");
    EXPECT_EQ(params.find("id"), "5");
    EXPECT_EQ(t->label(t->match(http_method::delete_, "/api/v3/pet/5")), "/api/v3/pet/{petId}");
    EXPECT_EQ(t->label(t->match(http_method::get, "/api/v3/metrics/a/b")),
              "/api/v3/metrics/{*rest}");
    EXPECT_EQ(t->size(), 37u);  // 36 imported - 1 overridden + 2 explicit
}

TEST(openapi, imports_swagger2_json_with_base_path) {
    const auto file = (data_dir / "shop-swagger2.json").string();
    const auto specs = import_openapi(file);
    EXPECT_EQ(specs.size(), 37u);
    const auto* patch = find(specs, "PATCH", "/v2/products/{productId}");
    ASSERT_NE(patch, nullptr);
    EXPECT_EQ(patch->name, "patchProduct");
    EXPECT_EQ(patch->mark.line, line_of(file, "\"/products/{productId}\": {", "\"patch\": {"));
    ASSERT_NE(find(specs, "HEAD", "/v2/inventory/{sku}"), nullptr);
    for (const auto& s : specs) EXPECT_EQ(s.path_template.rfind("/v2/", 0), 0u);
}

TEST(openapi, shop_routes_match_end_to_end) {
    const auto t = table_from((data_dir / "shop-swagger2.json").string());
    param_list params;
    EXPECT_EQ(t->label(t->match(http_method::get, "/v2/products/search?q=shoes")),
              "/v2/products/search");
    EXPECT_EQ(t->label(t->match(http_method::get, "/v2/products/17", &params)),
              "/v2/products/{productId}");
    EXPECT_EQ(params.find("productId"), "17");
    const auto review = t->match(http_method::delete_, "/v2/products/17/reviews/3", &params);
    EXPECT_EQ(t->label(review), "/v2/products/{productId}/reviews/{reviewId}");
    EXPECT_EQ(t->entries()[review - 1].name, "deleteReview");
    EXPECT_EQ(params.find("reviewId"), "3");
    EXPECT_EQ(t->label(t->match(http_method::post, "/v2/checkout")), "/v2/checkout");
    EXPECT_EQ(t->label(t->match(http_method::put, "/v2/cart/items/abc")),
              "/v2/cart/items/{itemId}");
    EXPECT_EQ(t->label(t->match(http_method::post, "/v2/orders/o-1/refunds")),
              "/v2/orders/{orderId}/refunds");
    EXPECT_EQ(t->label(t->match(http_method::get, "/v2/coupons/SUMMER%2024", &params)),
              "/v2/coupons/{code}");
    EXPECT_EQ(params.find("code"), "SUMMER 24");
    EXPECT_EQ(t->match(http_method::get, "/v2/checkout"), unmatched_route);
    EXPECT_EQ(t->match(http_method::get, "/products"), unmatched_route);
}

TEST(openapi, server_url_variables_and_absolute_urls) {
    const auto file = write_temp("vars.yaml", R"(openapi: 3.1.0
servers:
  - url: 'https://{host}:{port}/{basePath}/'
    variables:
      host: {default: api.example.com}
      port: {default: '443'}
      basePath: {default: v1}
paths:
  /things/{id}:
    get: {operationId: getThing}
)");
    const auto specs = import_openapi(file);
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].path_template, "/v1/things/{id}");
    EXPECT_EQ(specs[0].mark.line, 10);

    const auto root = write_temp("root.json", R"({"openapi": "3.0.0",
 "servers": [{"url": "https://api.example.com"}],
 "paths": {"/a": {"post": {}}}})");
    ASSERT_EQ(import_openapi(root).size(), 1u);
    EXPECT_EQ(import_openapi(root)[0].path_template, "/a");

    const auto none =
        write_temp("swagger-root.yaml", "swagger: '2.0'\npaths:\n  /b:\n    get: {}\n");
    EXPECT_EQ(import_openapi(none)[0].path_template, "/b");
}

TEST(openapi, errors_carry_file_and_line) {
    const auto missing = import_error("/nonexistent/openapi.yaml");
    EXPECT_EQ(missing.mark().file, "/nonexistent/openapi.yaml");
    EXPECT_EQ(missing.key_path(), "routes.openapi");
    EXPECT_NE(std::string(missing.what()).find("cannot read"), std::string::npos);

    const auto not_api = import_error(write_temp("not-api.yaml", "name: hello\npaths: {}\n"));
    EXPECT_NE(std::string(not_api.what()).find("not an OpenAPI 3 or Swagger 2"), std::string::npos);

    const auto bad_yaml = import_error(write_temp("bad.yaml", "openapi: 3.0.0\npaths: [\n  {\n"));
    EXPECT_GT(bad_yaml.mark().line, 1);
    EXPECT_NE(std::string(bad_yaml.what()).find("not valid YAML"), std::string::npos);

    const auto bad_tpl = import_error(
        write_temp("bad-template.yaml",
                   "openapi: 3.0.0\npaths:\n  /ok:\n    get: {}\n  /a/{b:\n    get: {}\n"));
    EXPECT_EQ(bad_tpl.mark().line, 6);
    EXPECT_NE(std::string(bad_tpl.what()).find("invalid route template '/a/{b'"), std::string::npos)
        << bad_tpl.what();

    const auto relative = import_error(
        write_temp("relative-path.yaml", "swagger: '2.0'\npaths:\n  pets:\n    get: {}\n"));
    EXPECT_EQ(relative.mark().line, 3);

    const auto no_paths = import_error(write_temp("no-paths.yaml", "openapi: 3.0.0\n"));
    EXPECT_NE(std::string(no_paths.what()).find("paths"), std::string::npos);
}

TEST(openapi, duplicate_operations_across_equivalent_paths_are_rejected) {
    const auto file = write_temp("dup.yaml",
                                 "openapi: 3.0.0\npaths:\n  /a/{x}:\n    get: {}\n  /a/{y}:\n"
                                 "    get: {}\n");
    config::routes_config routes;
    routes.openapi_file = file;
    try {
        route_table::build(routes);
        FAIL() << "no config_error";
    } catch (const config::config_error& e) {
        EXPECT_EQ(e.mark().file, file);
        EXPECT_EQ(e.mark().line, 6);
        EXPECT_NE(std::string(e.what()).find("line 4"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace sidelight::routes
