// cmdline.hpp - splitting a vde_stackcmd() string into argument vectors, the
// way libvdestack 0.1.2 does it (libexecs' s2multiargv), without any shell:
//   ';' separates commands (empty commands are skipped),
//   blanks separate arguments,
//   '...' quotes literally, "..." quotes (with '\' escapes inside),
//   '\' escapes the next character,
//   '$' outside single quotes is dropped and the name kept, no expansion:
//   "/bin/echo [$HOME]" prints "[HOME]", as measured on the reference.
// Pure function, thread-safe, never throws but std::bad_alloc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vdestack {

using Argv = std::vector<std::string>;

std::vector<Argv> split_commands(std::string_view line);

}  // namespace vdestack
