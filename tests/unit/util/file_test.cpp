// util::read_small_file: the one reader of configs, keys and cgroup values.

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "util/file.hpp"

namespace sidelight::util {
namespace {

class FileTest : public ::testing::Test {
  protected:
    FileTest() {
        dir_ = std::filesystem::temp_directory_path() /
               ("sidelight-file-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
    }
    ~FileTest() override { std::filesystem::remove_all(dir_); }
    std::string path(const char* name) const { return (dir_ / name).string(); }
    std::filesystem::path dir_;
};

TEST_F(FileTest, ReadsARegularFileWhole) {
    std::ofstream(path("a.txt")) << "line one\nline two\n";
    const auto r = read_small_file(path("a.txt"), 1024);
    ASSERT_TRUE(r.ok()) << r.reason(1024);
    EXPECT_EQ(r.text, "line one\nline two\n");
}

TEST_F(FileTest, SaysWhyItCannotRead) {
    const auto r = read_small_file(path("missing"), 1024);
    EXPECT_EQ(r.error, file_text::failure::cannot_read);
    EXPECT_EQ(r.error_number, ENOENT);
    EXPECT_EQ(r.reason(1024), "No such file or directory");
}

TEST_F(FileTest, RefusesWhatIsNotARegularFileWithoutReadingIt) {
    EXPECT_EQ(read_small_file("/dev/zero", 1024).error, file_text::failure::not_regular);
    EXPECT_EQ(read_small_file(dir_.string(), 1024).error, file_text::failure::not_regular);
    ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
    // Opening a FIFO with no writer would block a plain open(): this returns at once.
    EXPECT_EQ(read_small_file(path("fifo"), 1024).error, file_text::failure::not_regular);
}

TEST_F(FileTest, RefusesAFileOverTheCap) {
    std::ofstream(path("big")) << std::string(2000, 'x');
    const auto r = read_small_file(path("big"), 1999);
    EXPECT_EQ(r.error, file_text::failure::too_large);
    EXPECT_TRUE(r.text.empty());
    EXPECT_TRUE(read_small_file(path("big"), 2000).ok());
}

}  // namespace
}  // namespace sidelight::util
