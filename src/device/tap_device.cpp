// tap_device.cpp - creating a stack's tap device (see tap_device.hpp).
#include "device/tap_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "base/error.hpp"
#include "base/ifname.hpp"
#include "wire/vnet.hpp"

namespace vdestack::device {

UniqueFd open_tap_device(const std::string& ifname, const OffloadConfig& off) {
    check_ifname(ifname);
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!fd) fail_errno("open(/dev/net/tun)");
    ifreq ifr{};
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (off.vnet_hdr() ? IFF_VNET_HDR : 0));
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) fail_errno("tap " + ifname + ": ioctl(TUNSETIFF)");
    if (off.vnet_hdr()) {
        int size = static_cast<int>(wire::VnetHdr::kSize);
        if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0) fail_errno("tap " + ifname + ": ioctl(TUNSETVNETHDRSZ)");
        // What the engine finishes in user space (offload.hpp): the stack's
        // kernel then leaves checksums partial and hands out 64 KiB TCP
        // super-segments. Without it (0) every frame comes finished.
        unsigned bits = (off.csum ? TUN_F_CSUM : 0u) | (off.tso ? TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0u);
        if (::ioctl(fd.get(), TUNSETOFFLOAD, static_cast<unsigned long>(bits)) < 0)
            fail_errno("tap " + ifname + ": ioctl(TUNSETOFFLOAD)");
    }
    // Persistent: closing the fd then leaves the interface to its namespace,
    // and the kernel deletes both together, asynchronously and in batches,
    // when the namespace's last reference goes. Closing a non-persistent tap
    // unregisters it on the spot and waits for RCU: ~21 ms per stack here,
    // against ~0.3 ms.
    if (::ioctl(fd.get(), TUNSETPERSIST, 1) < 0) fail_errno("tap " + ifname + ": ioctl(TUNSETPERSIST)");
    return fd;
}

}  // namespace vdestack::device
