// Runs the shipped sidelight (SIDELIGHT_BINARY) with the arguments given, under a seccomp filter
// that refuses part of io_uring with EPERM (tests/integration/pgwire_test.cpp):
//   REFUSE_SETUP  io_uring_setup, as Docker's default profile does: a container without io_uring
//                 (the relay falls back to epoll);
//   REFUSE_ENTER  every io_uring_enter: a ring can be made but not used (the same fallback);
//   REFUSE_WAITS  io_uring_enter when it waits for completions (IORING_ENTER_GETEVENTS): the relay
//                 starts, then its ring stops answering (the relay stops; connections refused).

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>

int main(int, char** argv) {
    constexpr auto refuse = SECCOMP_RET_ERRNO | EPERM;
#if defined(REFUSE_WAITS)
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // another ABI: not this test's concern
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 3),
        // flags, the fourth argument (its low 32 bits on little-endian x86-64)
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, IORING_ENTER_GETEVENTS, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, refuse),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
#else
#if defined(REFUSE_ENTER)
    constexpr int refused = __NR_io_uring_enter;
#else
    constexpr int refused = __NR_io_uring_setup;
#endif
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, refused, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, refuse),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
#endif
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
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
