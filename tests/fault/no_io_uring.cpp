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
#include <cstdio>

int main(int, char** argv) {
    constexpr auto refuse = SECCOMP_RET_ERRNO | EPERM;
#if defined(REFUSE_PAIRS)
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // another ABI: not this test's concern
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 3),
        // to_submit, the second argument (its low 32 bits on little-endian x86-64)
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, refuse),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
#elif defined(REFUSE_EPOLL)
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_wait, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_pwait, 0, 3),
        // maxevents, the third argument
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 64, 0, 1),
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
