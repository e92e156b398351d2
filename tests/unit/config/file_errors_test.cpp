// What load_file refuses before parsing (not a regular file, over the size cap) and what
// load_string refuses in the text as a whole (a second YAML document), with the exact message.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

// A fresh directory under /tmp, removed with its contents.
class FileErrorsTest : public ::testing::Test {
  protected:
    FileErrorsTest() {
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() /
               ("sidelight-config-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
    }
    ~FileErrorsTest() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string file(const std::string& name) const { return (dir_ / name).string(); }

    // The what() of load_file(path), or "loaded".
    static std::string error_of_file(const std::string& path) {
        try {
            load_file(path);
        } catch (const config_error& e) {
            return e.what();
        }
        return "loaded";
    }

    std::filesystem::path dir_;
};

std::string error_of(const std::string& yaml) {
    try {
        load_string(yaml, "s.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "loaded";
}

TEST_F(FileErrorsTest, a_device_is_refused_without_reading_it) {
    // /dev/zero never ends: reading it would grow without bound.
    EXPECT_EQ(error_of_file("/dev/zero"),
              "/dev/zero: not a regular file (a device, FIFO or directory is never read as "
              "config)");
}

TEST_F(FileErrorsTest, a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer) {
    const auto fifo = file("config.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(error_of_file(fifo),
              fifo + ": not a regular file (a device, FIFO or directory is never read as config)");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(FileErrorsTest, a_file_over_the_cap_is_refused_naming_the_file_and_the_cap) {
    const auto big = file("big.yaml");
    std::ofstream(big) << "upstream: {address: 127.0.0.1:3000}\n";
    std::filesystem::resize_file(big, max_file_bytes + 1);  // sparse: nothing is written
    EXPECT_EQ(error_of_file(big), big + ": larger than 16 MiB, the limit for a configuration file");
    std::filesystem::resize_file(big, max_file_bytes);  // at the cap: read, then parsed
    EXPECT_EQ(error_of_file(big).find("larger than"), std::string::npos);
}

TEST_F(FileErrorsTest, a_regular_file_still_loads) {
    const auto ok = file("ok.yaml");
    std::ofstream(ok) << "upstream: {address: 127.0.0.1:3000}\n";
    EXPECT_EQ(error_of_file(ok), "loaded");
}

TEST(config_file_errors, a_second_document_is_refused_at_its_position) {
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n---\nproxy: {workers: 2}\n"),
              "s.yaml:3:1: a second YAML document (after ---): the configuration is one "
              "document");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n---\n- a\n"),
              "s.yaml:3:1: a second YAML document (after ---): the configuration is one "
              "document");
}

TEST(config_file_errors, document_markers_around_one_document_are_fine) {
    EXPECT_EQ(error_of("---\nupstream: {address: 127.0.0.1:3000}\n"), "loaded");
    EXPECT_EQ(error_of("---\nupstream: {address: 127.0.0.1:3000}\n...\n"), "loaded");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n---\n"), "loaded");  // empty one
    // No document at all is read as an empty map, as before.
    EXPECT_EQ(error_of(""), "s.yaml:1:1: upstream.address: missing required key");
}

}  // namespace
}  // namespace sidelight::config
