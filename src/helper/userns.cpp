// userns.cpp - user namespace entry and ambient capabilities (see userns.hpp).
#include "helper/userns.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace vdestack::helper {

namespace {
void write_file(const char* path, const std::string& text) {
    UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
    if (!fd) fail_errno(std::string("open(") + path + ")");
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        fail_errno(std::string("write(") + path + ")");
}
}  // namespace

void enter_user_namespace() {
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER) != 0) fail_errno("unshare(CLONE_NEWUSER)");
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
    write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
}

// System calls only: a stackcmd command's child runs it before its exec (command.cpp).
__attribute__((no_sanitize("address", "thread", "undefined"))) int raise_net_ambient_caps(bool sysadm) noexcept {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) return -errno;
    const int caps[] = {CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST,
                        sysadm ? CAP_SYS_ADMIN : CAP_NET_ADMIN};
    for (int c : caps) data[c / 32].inheritable |= (1U << (c % 32)) & data[c / 32].permitted;
    if (::syscall(SYS_capset, &hdr, data) != 0) return -errno;
    for (int c : caps)
        if (data[c / 32].permitted & (1U << (c % 32)))
            if (::syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(c), 0UL, 0UL) != 0)
                return -errno;
    return 0;
}

}  // namespace vdestack::helper
