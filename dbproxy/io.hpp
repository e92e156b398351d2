#pragma once
// The I/O vocabulary of the database listeners: one io_context on one thread runs every
// database listener and connection, so sockets and coroutines name its executor directly.
// `client side`: the app's connection to sidelight; `database side`: sidelight's to the server.

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sidelight::dbproxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

using executor = net::io_context::executor_type;
template <typename T>
using task = net::awaitable<T, executor>;
using tcp_socket = net::basic_stream_socket<tcp, executor>;
using tcp_acceptor = net::basic_socket_acceptor<tcp, executor>;
using io_timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                           net::wait_traits<std::chrono::steady_clock>, executor>;

// Errors come back as values, not exceptions.
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable_t<executor>{});

}  // namespace sidelight::dbproxy
