// nss.hpp - name service lookups (the passwd database), done once here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace vdestack {

// The login name of `uid` from the passwd database (getpwuid_r, its buffer
// grown on ERANGE up to 1 MiB); nullopt when there is none, it is empty, or
// the lookup fails. Thread-safe.
[[nodiscard]] std::optional<std::string> user_name_of(uid_t uid);

}  // namespace vdestack
