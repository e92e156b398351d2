// Runs the shipped sidelight (SIDELIGHT_BINARY) with the arguments given, under a seccomp filter
// that refuses part of io_uring, or the epoll relay's wait, with EPERM
// (tests/integration/pgwire_test.cpp):
//   REFUSE_SETUP  io_uring_setup, as Docker's default profile does: a container without io_uring
//                 (the relay falls back to epoll);
//   REFUSE_ENTER  every io_uring_enter: a ring can be made but not used (the same fallback);
//   REFUSE_PAIRS  io_uring_enter when it submits exactly two operations: the relay starts (its
//                 first calls submit one, then three for a connection it takes), and its ring
//                 stops answering at the first chunk it forwards (a send linked to a receive)
//                 while it holds that connection.
//   REFUSE_EPOLL  epoll_wait for 64 events, the epoll relay's own (Asio's reactor asks for 128):
//                 with `database_io: epoll`, the relay stops at its first wait.

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

// The system calls refused, and when `arg` is set, only when that argument (its low 32 bits on
// little-endian x86-64) equals `value`.
struct rule {
    std::vector<int> calls;
    int arg = -1;
    std::uint32_t value = 0;
};

#if defined(REFUSE_PAIRS)
const rule refused{{__NR_io_uring_enter}, 1, 2};  // to_submit
#elif defined(REFUSE_EPOLL)
const rule refused{{__NR_epoll_wait, __NR_epoll_pwait}, 2, 64};  // maxevents
#elif defined(REFUSE_ENTER)
const rule refused{{__NR_io_uring_enter}};
#else
const rule refused{{__NR_io_uring_setup}};
#endif

std::vector<sock_filter> program_of(const rule& r) {
    constexpr std::uint32_t refuse = SECCOMP_RET_ERRNO | EPERM;
    std::vector<sock_filter> f{
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // another ABI: not this test's concern
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    };
    const auto n = r.calls.size();
    for (std::size_t i = 0; i < n; ++i) {  // a match jumps past the allow below
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(r.calls[i]),
                             static_cast<std::uint8_t>(n - i), 0));
    }
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    if (r.arg >= 0) {
        f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                             static_cast<std::uint32_t>(offsetof(seccomp_data, args) +
                                                        sizeof(std::uint64_t) * r.arg)));
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, r.value, 0, 1));
    }
    f.push_back(BPF_STMT(BPF_RET | BPF_K, refuse));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return f;
}

}  // namespace

int main(int, char** argv) {
    auto filter = program_of(refused);
    sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        std::perror("no_io_uring: seccomp");
        return 125;
    }
    argv[0] = const_cast<char*>(SIDELIGHT_BINARY);
    ::execv(SIDELIGHT_BINARY, argv);
    std::perror("no_io_uring: exec");
    return 126;
}
