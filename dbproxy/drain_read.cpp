// See drain_read.hpp.
#include "dbproxy/drain_read.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sidelight::dbproxy {

bool enable_drain_hint(int socket) {
#if defined(SIDELIGHT_DRAIN_READ) && defined(TCP_INQ)
    const int on = 1;
    return ::setsockopt(socket, IPPROTO_TCP, TCP_INQ, &on, sizeof on) == 0;
#else
    (void)socket;
    return false;
#endif
}

}  // namespace sidelight::dbproxy
