#pragma once
// Reading a whole small file (a config, a key, a cgroup value), once for every caller: what is
// not a regular file is refused before it is read (opening a FIFO does not wait for a writer,
// and a device such as /dev/zero is never read), and so is a file over a size cap, also when it
// grows while being read. The caller words the error for its own context.
// Pure function of the file system; thread-safe.

#include <cstddef>
#include <string>

namespace sidelight::util {

struct file_text {
    enum class failure { none, cannot_read, not_regular, too_large };
    std::string text;
    failure error = failure::none;
    int error_number = 0;  // errno, with cannot_read

    bool ok() const { return error == failure::none; }
    // "No such file or directory", "not a regular file", "larger than 1048576 bytes"
    std::string reason(std::size_t max_bytes) const;
};

file_text read_small_file(const std::string& path, std::size_t max_bytes);

}  // namespace sidelight::util
