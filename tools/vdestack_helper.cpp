// vdestack_helper.cpp - entry point of the namespace helper process that
// libvdestack spawns (one per client process). Not meant to be run by hand:
// it expects the protocol channel on fd 0 (see src/helper/helper.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "helper/helper.hpp"
#include "wire/helper_proto.hpp"

int main() {
    struct stat st {};
    if (::fstat(vdestack::wire::proto::kChannelFd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        std::fprintf(stderr, "vdestack-helper: internal program of libvdestack, not meant to be run by hand\n");
        return 2;
    }
    // Nothing but the channel (fd 0) and stdout/stderr (/dev/null) may stay open in here.
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::fcntl(vdestack::wire::proto::kChannelFd, F_SETFD, FD_CLOEXEC);
    // The client's settings: the environment it gave us.
    return vdestack::helper::helper_main(vdestack::wire::proto::kChannelFd, vdestack::Tuning::from_env());
}
