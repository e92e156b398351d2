// Asio and Beast are compiled once here (BOOST_ASIO_SEPARATE_COMPILATION,
// BOOST_BEAST_SEPARATE_COMPILATION) instead of in every translation unit that uses them;
// Asio's SSL part too, for the upstream TLS client (upstream_tls.hpp).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
