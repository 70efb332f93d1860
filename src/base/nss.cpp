// nss.cpp - passwd and group lookups (see nss.hpp).
#include "base/nss.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace vdestack {

namespace {

// Runs lookup(buffer) -> rc (a getXXX_r call) with a buffer of sysconf(key)
// bytes (16 KiB when unknown), doubled on ERANGE up to 1 MiB; the last rc.
template <class Lookup>
int with_nss_buffer(int key, Lookup&& lookup) {
    const long hint = ::sysconf(key);
    std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
    for (;;) {
        const int rc = lookup(buf);
        if (rc != ERANGE || buf.size() >= (std::size_t{1} << 20)) return rc;
        buf.resize(buf.size() * 2);
    }
}

}  // namespace

std::optional<std::string> user_name_of(uid_t uid) {
    std::optional<std::string> name;
    (void)with_nss_buffer(_SC_GETPW_R_SIZE_MAX, [&](std::vector<char>& buf) {
        passwd pw{};
        passwd* res = nullptr;
        const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res);
        if (rc == 0 && res != nullptr && pw.pw_name != nullptr && pw.pw_name[0] != '\0') name = pw.pw_name;
        return rc;
    });
    return name;
}

std::optional<gid_t> group_id_of(const std::string& group_name) {
    std::optional<gid_t> gid;
    (void)with_nss_buffer(_SC_GETGR_R_SIZE_MAX, [&](std::vector<char>& buf) {
        group gr{};
        group* res = nullptr;
        const int rc = ::getgrnam_r(group_name.c_str(), &gr, buf.data(), buf.size(), &res);
        if (rc == 0 && res != nullptr) gid = gr.gr_gid;
        return rc;
    });
    return gid;
}

}  // namespace vdestack
