// file_id.hpp - FileId: which file a path names now (device, inode and
// change time: inode numbers are reused at once, so a new file at the same
// place may get the old number, but not the old ctime too).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

namespace vdestack {

struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    timespec ctime{};
    bool valid = false;  // false: the path named nothing we could stat
    // Two ids are the same file only when both are valid.
    friend bool operator==(const FileId& a, const FileId& b) noexcept {
        return a.valid && b.valid && a.dev == b.dev && a.ino == b.ino && a.ctime.tv_sec == b.ctime.tv_sec &&
               a.ctime.tv_nsec == b.ctime.tv_nsec;
    }
};

// The file at `path`: the link itself (lstat) unless follow_links (stat).
// An invalid FileId when the path is null or empty or cannot be stat'ed.
// Thread-safe.
[[nodiscard]] inline FileId file_id_of(const char* path, bool follow_links) noexcept {
    struct stat st {};
    if (path == nullptr || *path == '\0' || (follow_links ? ::stat(path, &st) : ::lstat(path, &st)) != 0) return {};
    return {st.st_dev, st.st_ino, st.st_ctim, true};
}

}  // namespace vdestack
