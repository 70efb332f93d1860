// nss.hpp - name service lookups (the passwd and group databases), each
// done once here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace vdestack {

// The login name of `uid` from the passwd database (getpwuid_r, its buffer
// grown on ERANGE up to 1 MiB); nullopt when there is none, it is empty, or
// the lookup fails. Thread-safe.
[[nodiscard]] std::optional<std::string> user_name_of(uid_t uid);

// The id of group `name` from the group database (getgrnam_r, grown as
// above); nullopt when there is no such group or the lookup fails.
// Thread-safe.
[[nodiscard]] std::optional<gid_t> group_id_of(const std::string& name);

}  // namespace vdestack
