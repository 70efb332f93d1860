// stack_api.cpp - vde::Stack, the C++ API (include/vdestack/stack.hpp),
// a thin owner of a detail::StackCore that turns -errno into exceptions.
#include "vdestack/stack.hpp"

#include "client/client.hpp"
#include "client/netconf.hpp"

namespace vde {

Stack::Stack(std::string_view vnl, const StackOptions& opts)
    : core_(std::make_unique<detail::StackCore>(vnl, opts.ifname)) {
    if (opts.mtu > 9216) throw Error(EINVAL, "vde_addstack(" + std::string(vnl) + "): MTU " + std::to_string(opts.mtu) +
                                       " is larger than a VDE frame carries (9216)");
    if (opts.mtu != 0) set_mtu(opts.mtu);
}
Stack::Stack(Stack&&) noexcept = default;
Stack& Stack::operator=(Stack&&) noexcept = default;
Stack::~Stack() = default;

Socket Stack::socket(int domain, int type, int protocol, std::error_code& ec) const noexcept {
    if (!core_) {
        ec = std::error_code(EBADF, std::generic_category());
        return Socket();
    }
    int fd = core_->msocket(domain, type, protocol);
    if (fd < 0) {
        ec = std::error_code(-fd, std::generic_category());
        return Socket();
    }
    ec.clear();
    return Socket(fd);
}

Socket Stack::socket(int domain, int type, int protocol) const {
    std::error_code ec;
    Socket s = socket(domain, type, protocol, ec);
    if (ec) throw Error(ec.value(), "vde_msocket(" + vnl() + ")");
    return s;
}

int Stack::run(std::string_view commands) {
    if (!core_) throw Error(EBADF, "vde_stackcmd: moved-from stack");
    int r = core_->stackcmd(commands);
    if (r < 0) throw Error(-r, "vde_stackcmd(" + vnl() + ")");
    return r;
}

int detail::stack_socket(void* core, int domain, int type, int protocol) noexcept {
    int fd = static_cast<detail::StackCore*>(core)->msocket(domain, type, protocol);
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    return fd;
}

vdestack::client::NetConf detail::netconf_of(detail::StackCore* core, const std::string& vnl) {
    if (core == nullptr) throw Error(EBADF, "moved-from stack");
    return vdestack::client::NetConf(vnl.empty() ? std::string("stack") : vnl, &stack_socket, core);
}

namespace {
using detail::netconf_of;
}  // namespace

unsigned Stack::if_index(std::string_view ifname) const {
    auto nc = netconf_of(core_.get(), vnl());
    return nc.index(ifname.empty() ? this->ifname() : ifname);
}
void Stack::link_up(std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.set_up(ifname.empty() ? this->ifname() : ifname, true);
}
void Stack::link_down(std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.set_up(ifname.empty() ? this->ifname() : ifname, false);
}
void Stack::set_mtu(unsigned mtu, std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.set_mtu(ifname.empty() ? this->ifname() : ifname, mtu);
}
void Stack::set_mac(const std::array<std::uint8_t, 6>& mac, std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.set_mac(ifname.empty() ? this->ifname() : ifname, mac);
}
std::array<std::uint8_t, 6> Stack::mac(std::string_view ifname) const {
    auto nc = netconf_of(core_.get(), vnl());
    return nc.mac(ifname.empty() ? this->ifname() : ifname);
}
void Stack::add_address(std::string_view cidr, std::string_view ifname, bool nodad) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.add_address(ifname.empty() ? this->ifname() : ifname, cidr, nodad);
}
void Stack::del_address(std::string_view cidr, std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.del_address(ifname.empty() ? this->ifname() : ifname, cidr);
}
void Stack::add_route(std::string_view dest, std::string_view gateway, std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.add_route(dest, gateway, ifname);
}
void Stack::del_route(std::string_view dest, std::string_view gateway, std::string_view ifname) {
    auto nc = netconf_of(core_.get(), vnl());
    nc.del_route(dest, gateway, ifname);
}
void Stack::add_interface(std::string_view vnl, std::string_view ifname) {
    if (!core_) throw Error(EBADF, "add_interface: moved-from stack");
    core_->add_interface(vnl, ifname);
}

Stack::ConfigResult Stack::configure(std::string_view config) {
    return detail::StackAccess::configure(*this, config, false);
}

Stack::ConfigResult detail::StackAccess::configure(Stack& s, std::string_view config, bool newstackc) {
    if (!s.core_) throw Error(EBADF, "configure: moved-from stack");
    auto a = s.core_->configure(config, newstackc);
    if (a.rval < 0) throw Error(a.err != 0 ? a.err : EIO, a.text.empty() ? "ioth_config" : a.text);
    Stack::ConfigResult r;
    r.mask = static_cast<unsigned>(a.rval);
    if (a.err != 0) r.error = std::error_code(a.err, std::generic_category());
    const std::size_t nl = a.text.find('\n');
    r.message = a.text.substr(0, nl);
    if (nl != std::string::npos) r.debug = a.text.substr(nl + 1);
    return r;
}

std::optional<std::string> Stack::resolvconf(std::string_view ifname) {
    return detail::StackAccess::resolvconf(*this, ifname, 0);
}

std::string Stack::dhcp_lease(std::string_view ifname) const {
    if (!core_) throw Error(EBADF, "dhcp_lease: moved-from stack");
    auto a = core_->conf_query(1, ifname, 0);
    if (a.rval < 0) throw Error(a.err != 0 ? a.err : EIO, a.text.empty() ? "dhcp_lease" : a.text);
    return a.text;
}

std::string Stack::dhcp6_lease(std::string_view ifname) const {
    if (!core_) throw Error(EBADF, "dhcp6_lease: moved-from stack");
    auto a = core_->conf_query(2, ifname, 0);
    if (a.rval < 0) throw Error(a.err != 0 ? a.err : EIO, a.text.empty() ? "dhcp6_lease" : a.text);
    return a.text;
}

void detail::StackAccess::freeze(Stack& s, bool on) {
    if (!s.core_) throw Error(EBADF, "freeze: moved-from stack");
    if (int r = s.core_->freeze(on); r < 0) throw Error(-r, on ? "freezing the stack" : "thawing the stack");
}

std::optional<std::string> detail::StackAccess::resolvconf(Stack& s, std::string_view ifname, unsigned ifindex) {
    if (!s.core_) throw Error(EBADF, "resolvconf: moved-from stack");
    auto a = s.core_->conf_query(0, ifname, ifindex);
    if (a.rval < 0) throw Error(a.err != 0 ? a.err : EIO, a.text.empty() ? "ioth_resolvconf" : a.text);
    if (a.rval == 0) return std::nullopt;
    return a.text;
}

std::error_code Stack::link_status() const {
    if (!core_) throw Error(EBADF, "link_status: moved-from stack");
    int r = core_->link_error();
    if (r < 0) throw Error(-r, "link_status(" + vnl() + ")");
    return r == 0 ? std::error_code() : std::error_code(r, std::generic_category());
}

const std::string& Stack::vnl() const noexcept {
    static const std::string empty;
    return core_ ? core_->vnl() : empty;
}

const std::string& Stack::ifname() const noexcept {
    static const std::string empty;
    return core_ ? core_->ifname() : empty;
}

}  // namespace vde
