// sidelight-audit links the audit room and what lies below it, and no proxy code: its symbol
// table names nothing of Asio or Beast, where the sidelight binary (the control, so that the
// check itself is shown to see such symbols) names thousands.

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

// Lines of `nm -C <binary>` that name a Boost.Asio or Boost.Beast symbol.
long proxy_symbols(const std::string& binary) {
    const std::string cmd = "nm -C '" + binary + "' | grep -cE 'boost::(beast|asio)::' ; exit 0";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
    if (!pipe) return -1;
    char buf[64] = {};
    if (!std::fgets(buf, sizeof buf, pipe.get())) return -1;
    return std::stol(buf);
}

TEST(AuditTool, LinksNoAsioOrBeast) {
    EXPECT_GT(proxy_symbols(SIDELIGHT_BINARY), 100);  // the check sees them where they are
    EXPECT_EQ(proxy_symbols(SIDELIGHT_AUDIT_BINARY), 0);
}

}  // namespace
