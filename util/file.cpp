#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

namespace sidelight::util {

std::string file_text::reason(std::size_t max_bytes) const {
    switch (error) {
        case failure::none:
            return {};
        case failure::cannot_read:
            return std::error_code(error_number, std::generic_category()).message();
        case failure::not_regular:
            return "not a regular file";
        case failure::too_large:
            return "larger than " + std::to_string(max_bytes) + " bytes";
    }
    return {};
}

file_text read_small_file(const std::string& path, std::size_t max_bytes) {
    file_text out;
    const auto fail = [&](file_text::failure f, int error_number = 0) {
        out.text.clear();
        out.error = f;
        out.error_number = error_number;
        return out;
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(file_text::failure::cannot_read, errno);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(::fdopen(fd, "rb"), &std::fclose);
    if (!file) {
        const int e = errno;
        ::close(fd);
        return fail(file_text::failure::cannot_read, e);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(file_text::failure::cannot_read, errno);
    if (!S_ISREG(st.st_mode)) return fail(file_text::failure::not_regular);
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
        return fail(file_text::failure::too_large);
    char buffer[8192];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) {
        out.text.append(buffer, n);
        if (out.text.size() > max_bytes) return fail(file_text::failure::too_large);
    }
    if (std::ferror(file.get())) return fail(file_text::failure::cannot_read, errno);
    return out;
}

}  // namespace sidelight::util
