#pragma once
// The I/O types of the proxy workers. Each worker's io_context runs on one thread, so its
// sockets, timers and coroutines name that io_context's executor type directly instead of
// the type-erased any_io_executor: no executor copies through a vtable, and no work tracking
// through one, on every read and write.

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sidelight::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;

using executor = net::io_context::executor_type;
template <typename T>
using task = net::awaitable<T, executor>;
using tcp_socket = net::basic_stream_socket<tcp, executor>;
using tcp_acceptor = net::basic_socket_acceptor<tcp, executor>;
using io_timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                           net::wait_traits<std::chrono::steady_clock>, executor>;

// Completion token of the workers' coroutines: errors come back as values, not exceptions.
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable_t<executor>{});

}  // namespace sidelight::proxy
