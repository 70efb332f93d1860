// thread_name.hpp - names the library's threads, as ps -L, top -H and
// /proc/PID/task/TID/comm show them: "vds-" and what the thread does
// (vds-helper, vds-engine, vds-netns, vds-reaper, vds-conf, vds-linger). A
// program that runs its stacks' helper as a thread can so tell the library's
// threads from its own; the tests count them so.
// Thread-safety: names the calling thread only.
#pragma once

#include <pthread.h>

namespace vdestack {

// Names the calling thread (at most 15 characters; longer is cut). Never fails.
inline void name_this_thread(const char* name) noexcept {
    char cut[16] = {};
    for (int i = 0; i < 15 && name[i] != '\0'; i++) cut[i] = name[i];
    (void)::pthread_setname_np(::pthread_self(), cut);
}

}  // namespace vdestack
