#include "proxy/listener.hpp"

#include <gtest/gtest.h>

namespace sidelight::proxy {
namespace {

TEST(ListenerTest, IngressComesFromProxyAndUpstream) {
    config::config cfg;
    cfg.proxy.listen = {"127.0.0.1", 8081};
    cfg.proxy.workers = 3;
    cfg.proxy.max_connections = 77;
    cfg.upstream.address = {"app", 3001};
    const auto spec = ingress_listener(cfg);
    EXPECT_EQ(spec.index, 0);
    EXPECT_EQ(spec.name, "ingress");
    EXPECT_EQ(spec.listen, cfg.proxy.listen);
    EXPECT_EQ(spec.workers, 3u);
    EXPECT_EQ(spec.max_connections, 77u);
    EXPECT_EQ(spec.upstream, cfg.upstream);
    EXPECT_FALSE(spec.egress);
    EXPECT_EQ(listener_label(spec), "");
}

TEST(ListenerTest, EgressComesFromItsEntry) {
    config::config cfg;
    cfg.proxy.max_connections = 55;
    for (const char* name : {"mail", "sms"}) {
        config::egress_config e;
        e.name = name;
        e.listen = {"127.0.0.1", 9100};
        e.upstream.address = {std::string(name) + ".example", 443};
        e.workers = 2;
        cfg.egress.push_back(e);
    }
    const auto spec = egress_listener(cfg, 1);
    EXPECT_EQ(spec.index, 2);
    EXPECT_EQ(spec.name, "sms");
    EXPECT_EQ(spec.upstream.address.host, "sms.example");
    EXPECT_EQ(spec.workers, 2u);
    EXPECT_EQ(spec.max_connections, 55u);
    EXPECT_TRUE(spec.egress);
    EXPECT_EQ(listener_label(spec), " (egress sms)");
}

TEST(ListenerTest, AuthorityOmitsTheSchemesDefaultPort) {
    config::upstream_config u;
    u.address = {"api.sendgrid.com", 443};
    u.tls.enabled = true;
    EXPECT_EQ(upstream_authority(u), "api.sendgrid.com");
    u.tls.enabled = false;
    EXPECT_EQ(upstream_authority(u), "api.sendgrid.com:443");
    u.address.port = 80;
    EXPECT_EQ(upstream_authority(u), "api.sendgrid.com");
    u.tls = {true, "mail.test", "", {}};
    u.address = {"127.0.0.1", 8443};
    EXPECT_EQ(upstream_authority(u), "mail.test:8443");
    u.tls.sni.clear();
    u.address = {"::1", 443};
    EXPECT_EQ(upstream_authority(u), "[::1]");
}

}  // namespace
}  // namespace sidelight::proxy
