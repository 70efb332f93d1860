// nss.cpp - passwd lookups (see nss.hpp).
#include "base/nss.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace vdestack {

std::optional<std::string> user_name_of(uid_t uid) {
    const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
    for (;;) {
        passwd pw{};
        passwd* res = nullptr;
        const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res);
        if (rc == ERANGE && buf.size() < (std::size_t{1} << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc == 0 && res != nullptr && pw.pw_name != nullptr && pw.pw_name[0] != '\0') return std::string(pw.pw_name);
        return std::nullopt;
    }
}

std::optional<gid_t> group_id_of(const std::string& name) {
    const long hint = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
    for (;;) {
        group gr{};
        group* res = nullptr;
        const int rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
        if (rc == ERANGE && buf.size() < (std::size_t{1} << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc == 0 && res != nullptr) return gr.gr_gid;
        return std::nullopt;
    }
}

}  // namespace vdestack
