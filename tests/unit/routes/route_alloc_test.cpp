// The hot path must not allocate: route_table::match (with parameters) and the normalizer's
// lookup of a known template. Counts global operator new calls made by this thread.

// GCC 12 at -O2 sees the replaced operator new/delete pair below as mismatched.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "routes/route_normalizer.hpp"
#include "routes/route_table.hpp"

namespace {
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
    ++allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace sidelight::routes {
namespace {

TEST(route_alloc, match_does_not_allocate) {
    config::routes_config routes;
    routes.entries = {{"/api/products/{id}", {"GET"}, "", {}},
                      {"/api/products/search", {}, "", {}},
                      {"/api/orders/:order/items/{item}", {}, "", {}},
                      {"/static/{*rest}", {}, "", {}}};
    const auto t = route_table::build(routes);
    const std::string targets[] = {"/api/products/%34%32?q=1",
                                   "/api/orders/7/items/9/",
                                   "/static/a/b/c.css",
                                   "/api/../nope",
                                   "/x/%zz",
                                   "http://h/api/products/search",
                                   "/" + std::string(9000, 'a')};
    param_list params;
    const std::size_t before = allocations;
    route_id sum = 0;
    for (const auto& target : targets) sum += t->match(http_method::get, target, &params);
    EXPECT_EQ(allocations, before);
    EXPECT_GT(sum, 0u);
}

TEST(route_alloc, known_normalized_template_does_not_allocate) {
    unmatched_normalizer n(10, 100);
    const std::size_t first = allocations;
    const auto id = n.normalize("/users/1/orders");
    EXPECT_GT(allocations, first);  // a new template is stored: the counter works
    ASSERT_NE(id, unmatched_route);
    const std::size_t before = allocations;
    EXPECT_EQ(n.normalize("/users/2/orders?x=y"), id);
    EXPECT_EQ(n.normalize("/bad/%00"), unmatched_route);
    EXPECT_EQ(allocations, before);
}

}  // namespace
}  // namespace sidelight::routes
