// tap.cpp - tap creation (see tap.hpp).
#include "stack/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "util/error.hpp"

namespace vdestack::stack {

void check_ifname(std::string_view ifname) {
    bool ok = !ifname.empty() && ifname.size() < IFNAMSIZ && ifname != "." && ifname != "..";
    for (char c : ifname)
        if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') ok = false;
    if (!ok) fail(EINVAL, "bad interface name '" + std::string(ifname) + "'");
}

UniqueFd open_tap(const std::string& ifname) {
    check_ifname(ifname);
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!fd) fail_errno("open(/dev/net/tun)");
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) fail_errno("tap " + ifname + ": ioctl(TUNSETIFF)");
    // Persistent: closing the fd then leaves the interface to its namespace,
    // and the kernel deletes both together, asynchronously and in batches,
    // when the namespace's last reference goes. Closing a non-persistent tap
    // unregisters it on the spot and waits for RCU: ~21 ms per stack here,
    // against ~0.3 ms.
    if (::ioctl(fd.get(), TUNSETPERSIST, 1) < 0) fail_errno("tap " + ifname + ": ioctl(TUNSETPERSIST)");
    return fd;
}

}  // namespace vdestack::stack
