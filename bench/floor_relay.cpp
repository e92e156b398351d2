// The floor of a TCP proxy, for bench/pgwire.sh (FLOOR=1): one thread, one level-triggered epoll,
// one recv and one send per readable socket, nothing observed, nothing parsed, no timers. What
// it costs per query is what any proxy on the same machine pays in system calls and wakeups;
// a proxy that observes the traffic (sidelight, PgBouncer) can only add to it.
//
//   floor_relay LISTEN_PORT UPSTREAM_PORT     (both on 127.0.0.1)
//
// Not part of sidelight; built by bench/pgwire.sh with the system compiler.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

void watch(int ep, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: floor_relay LISTEN_PORT UPSTREAM_PORT\n");
        return 2;
    }
    const auto listen_at = loopback(std::atoi(argv[1]));
    const auto upstream = loopback(std::atoi(argv[2]));
    const int one = 1;
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listener, reinterpret_cast<const sockaddr*>(&listen_at), sizeof listen_at) != 0 ||
        ::listen(listener, 128) != 0) {
        std::perror("floor_relay: listen");
        return 1;
    }
    const int ep = ::epoll_create1(0);
    watch(ep, listener);
    std::vector<int> peer(1 << 16, -1);  // fd -> the other side of its connection
    std::vector<char> buffer(16 * 1024);
    epoll_event events[64];
    for (;;) {
        const int ready = ::epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listener) {
                const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
                if (client < 0) continue;
                const int server = ::socket(AF_INET, SOCK_STREAM, 0);
                if (::connect(server, reinterpret_cast<const sockaddr*>(&upstream),
                              sizeof upstream) != 0 ||
                    client >= static_cast<int>(peer.size()) ||
                    server >= static_cast<int>(peer.size())) {
                    ::close(client);
                    ::close(server);
                    continue;
                }
                ::fcntl(server, F_SETFL, O_NONBLOCK);
                ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                peer[client] = server;
                peer[server] = client;
                watch(ep, client);
                watch(ep, server);
                continue;
            }
            const int to = peer[fd];
            if (to < 0) continue;
            const auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) {  // either side gone: both closed
                ::close(fd);
                ::close(to);
                peer[fd] = peer[to] = -1;
                continue;
            }
            // Small answers fit the send buffer; a full one spins here (the floor, not a proxy).
            for (ssize_t sent = 0; sent < n;) {
                const auto w = ::send(to, buffer.data() + sent, static_cast<std::size_t>(n - sent),
                                      MSG_NOSIGNAL);
                if (w < 0 && errno == EAGAIN) continue;
                if (w < 0) break;
                sent += w;
            }
        }
    }
}
