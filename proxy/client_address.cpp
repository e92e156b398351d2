#include "proxy/client_address.hpp"

namespace sidelight::proxy {

std::string client_ip_string(const boost::asio::ip::address& peer) {
    if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6())
            .to_string();
    }
    return peer.to_string();
}

}  // namespace sidelight::proxy
