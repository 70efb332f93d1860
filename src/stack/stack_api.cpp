// stack_api.cpp - vdestack::Stack, the C++ API (include/vdestack/stack.hpp),
// a thin owner of a detail::StackCore that turns -errno into exceptions.
#include "vdestack/stack.hpp"

#include "stack/client.hpp"

namespace vde {

Stack::Stack(std::string_view vnl, const StackOptions& opts)
    : core_(std::make_unique<detail::StackCore>(vnl, opts.ifname)) {}
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

int Stack::run(std::string_view commands) const {
    if (!core_) throw Error(EBADF, "vde_stackcmd: moved-from stack");
    int r = core_->stackcmd(commands);
    if (r < 0) throw Error(-r, "vde_stackcmd(" + vnl() + ")");
    return r;
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
