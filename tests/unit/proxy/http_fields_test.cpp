#include "proxy/http_fields.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sidelight::proxy {
namespace {

TEST(FieldPoolTest, AFreedBlockIsHandedOutAgainForItsSizeClass) {
    void* a = field_pool::allocate(100);
    field_pool::deallocate(a, 100);
    void* b = field_pool::allocate(120);  // same 64-byte class (65..128)
    EXPECT_EQ(a, b);
    field_pool::deallocate(b, 120);
    void* other = field_pool::allocate(10);  // another class: not that block
    EXPECT_NE(other, a);
    field_pool::deallocate(other, 10);
}

TEST(FieldPoolTest, LargeBlocksAndOtherThreadsFreesAreSafe) {
    void* big = field_pool::allocate(4096);
    static_cast<char*>(big)[4095] = 'x';
    field_pool::deallocate(big, 4096);
    void* p = field_pool::allocate(200);
    std::thread([p] { field_pool::deallocate(p, 200); }).join();  // joins that thread's lists
}

TEST(FieldPoolTest, FieldsWorkThroughTheAllocator) {
    fields f;
    for (int i = 0; i < 200; ++i) f.insert("X-Field-" + std::to_string(i), std::string(i, 'v'));
    EXPECT_EQ(f["X-Field-199"], std::string(199, 'v'));
    f.erase("X-Field-5");
    EXPECT_EQ(f.count("X-Field-5"), 0u);
    fields moved = std::move(f);
    EXPECT_EQ(moved.count("X-Field-6"), 1u);
}

}  // namespace
}  // namespace sidelight::proxy
