// vdestack/stack.hpp - the C++ API: a move-only Stack owning a private network
// namespace whose interface is joined to a VDE network.
//
//   vde::Stack s("vxvde://234.0.0.1");          // throws vde::Error
//   s.run("/bin/ip addr add 10.0.0.50/24 dev vde0"); // stackcmd
//   vde::Socket fd = s.socket(AF_INET6, SOCK_STREAM);
//
// Link with -lvdestack++ (pkg-config vdestack++, CMake vdestack::vdestack++);
// plain -lvdestack is the C API alone.
//
// Errors: every operation that fails throws vde::Error (a
// std::system_error with an errno code) whose what() names the call and the
// VNL, e.g. "vde_addstack(vxvde://234.0.0.1): ... : No such device". The
// one call made often enough for exceptions to matter, socket(), also has a
// form that takes a std::error_code& and never throws.
//
// Thread-safety: a Stack may be shared between threads by reference; every
// member is thread-safe (each is one request to the stack's helper). The
// members that change the stack are not const. Moving or destroying it must
// not race with other uses. Sockets are plain kernel fds: use them with any thread, poll,
// epoll, fork.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "vdestack/error.hpp"
#include "vdestack/fd.hpp"

namespace vde {

// A socket fd owned by one object (closed on destruction); release() gives
// it up. The same owner as every fd of the library (vdestack/fd.hpp).
using Socket = UniqueFd;

struct StackOptions {
    std::string ifname = "vde0";  // name of the interface joined to the VNL
    // MTU of the interface; 0 keeps the default, 1500 (what every VDE peer
    // takes). Up to 9216 between peers that all use it: fewer, larger frames
    // move TCP several times faster (see bench/).
    unsigned mtu = 0;
};

struct Restored;

namespace detail {
class StackCore;
struct StackAccess;  // the library's own way in (client/client.hpp)
}

class VDESTACK_API Stack {
public:
    // Creates a stack joined to `vnl` ("" = loopback only). Throws Error.
    explicit Stack(std::string_view vnl, const StackOptions& opts = {});
    Stack(Stack&&) noexcept;
    Stack& operator=(Stack&&) noexcept;
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;
    // Tears the stack down (interface, forwarding, VDE connection).
    ~Stack();

    // A socket in the stack's namespace. Throws Error (errno of socket(2)).
    [[nodiscard]] Socket socket(int domain, int type, int protocol = 0) const;
    [[nodiscard]] Socket socket(int domain, int type, int protocol, std::error_code& ec) const noexcept;

    // Runs ';'-separated commands in the namespace (vde_stackcmd semantics):
    // returns 0 or the exit status of the first failing command. Throws
    // Error only when the stack cannot be reached.
    int run(std::string_view commands);

    // ---- configuration through netlink: no `ip` or busybox needed ----------
    // `ifname` empty means the stack's own interface (StackOptions::ifname).
    // Each throws Error whose what() says what failed and why, e.g.
    // "vxvde://234.0.0.1: add address 10.0.0.1/24 to vde0: File exists".
    [[nodiscard]] unsigned if_index(std::string_view ifname = {}) const;
    void link_up(std::string_view ifname = {});
    void link_down(std::string_view ifname = {});
    void set_mtu(unsigned mtu, std::string_view ifname = {});
    void set_mac(const std::array<std::uint8_t, 6>& mac, std::string_view ifname = {});
    [[nodiscard]] std::array<std::uint8_t, 6> mac(std::string_view ifname = {}) const;
    // cidr: "10.0.0.1/24" or "fc00::1:1/64". nodad: IPv6 address usable at
    // once, without duplicate address detection (1-2 s otherwise).
    void add_address(std::string_view cidr, std::string_view ifname = {}, bool nodad = false);
    void del_address(std::string_view cidr, std::string_view ifname = {});
    // dest: "default" or a prefix; gateway may be empty (on-link route).
    void add_route(std::string_view dest, std::string_view gateway, std::string_view ifname = {});
    void del_route(std::string_view dest, std::string_view gateway, std::string_view ifname = {});

    // Why the stack's link to its network died (the switch went away, the
    // peer hung up), or an empty error_code while it works. The stack and
    // its sockets live on without it; reconnect://{VNL} brings a link back
    // by itself. Throws Error when the stack cannot be reached.
    [[nodiscard]] std::error_code link_status() const;

    // One more interface `ifname` in the stack, joined to `vnl` (an
    // interface per VNL, each forwarded on its own). It starts down and
    // unconfigured. Throws Error: EINVAL (bad name), EEXIST (a name in use),
    // the transport's errors. It lives as long as the stack.
    void add_interface(std::string_view vnl, std::string_view ifname);

    // ---- iothconf configuration (see iothconf.h for the options) ------------
    // Carries out an ioth_config() string, e.g. "eth,dhcp" or
    // "eth,ip=10.0.0.1/24,gw=10.0.0.254,dns=10.0.0.254": `mask` says what
    // succeeded (IOTHCONF_* bits), `error`/`message` the first source that
    // failed (a DHCP server that never answered: ETIMEDOUT), `debug` the
    // state with the "debug" option. Leases are renewed by the stack's
    // helper for as long as the stack lives. Throws Error for a bad string
    // (EINVAL) or interface (ENODEV), or when the stack cannot be reached.
    struct ConfigResult {
        unsigned mask = 0;
        std::error_code error;
        std::string message;
        std::string debug;
    };
    ConfigResult configure(std::string_view config);
    // The resolv.conf(5) text the configuration gives interface `ifname`
    // ("" = vde0), or nullopt when it has not changed since the previous
    // call. Throws Error.
    std::optional<std::string> resolvconf(std::string_view ifname = {});
    // The interface's current DHCPv4 lease, "" when there is none: e.g.
    // "ip=10.0.0.15/24,gw=10.0.0.1,dns=10.0.0.1,server=10.0.0.1,lease=120,
    // t1=5,t2=10,renewals=2". Throws Error.
    [[nodiscard]] std::string dhcp_lease(std::string_view ifname = {}) const;
    // Its DHCPv6 lease, "" when there is none: e.g. "ip=fc00::1:55/128,
    // dns=fc00::1:1,domain=test.lan,valid=120,t1=60,t2=96,renewals=0".
    [[nodiscard]] std::string dhcp6_lease(std::string_view ifname = {}) const;

    // ---- moving a live stack (vde_stack_save / vde_stack_restore) ----------
    // Freezes the stack (no frame leaves or enters it from now on) and writes
    // to `fd` an image of it (wire format: src/wire/stack_image.hpp): its
    // VNLs, interfaces, addresses, routes and neighbours, and `sockets`, each
    // a TCP socket established or listening or a UDP socket of this stack,
    // with their queues. Afterwards closing those sockets sends nothing and
    // destroying the stack is silent. Throws Error: EBADF (a socket of
    // another stack, a moved-from stack), EOPNOTSUPP (a socket it cannot
    // carry), the errno of a failed write; then nothing changed (the stack
    // forwards again, the sockets are as they were).
    void save(std::span<const int> sockets, int fd);
    // Rebuilds a saved stack from `fd` (exactly one image, from the fd's
    // offset), its own interface joined to `vnl` ("": the saved VNL; other
    // interfaces keep theirs), with its MAC, addresses, routes and neighbours;
    // announces it (gratuitous ARP, unsolicited neighbour advertisements) and
    // returns it with its sockets, live, in the saved order. Throws Error:
    // EINVAL (not an image of ours, a truncated, corrupted or newer one: the
    // message says which), the errors of Stack's constructor, of
    // add_interface and of the rebuilds (their calls named).
    [[nodiscard]] static Restored restore(int fd, std::string_view vnl = {});

    [[nodiscard]] const std::string& vnl() const noexcept;
    [[nodiscard]] const std::string& ifname() const noexcept;

private:
    friend struct detail::StackAccess;
    std::unique_ptr<detail::StackCore> core_;
};

// What Stack::restore() gives: the stack and its sockets, in the saved order.
struct Restored {
    Stack stack;
    std::vector<Socket> sockets;
};

}  // namespace vde
