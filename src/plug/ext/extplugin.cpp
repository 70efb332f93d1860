// extplugin.cpp - external vdeplug4 plugins through the installed libvdeplug
// (see extplugin.hpp).
//
// Theory of operation
// -------------------
// Loading (once per process, under a mutex; the library is never unloaded,
// since plugins may keep state and threads, slirp does):
//   Candidates, first that works wins: $VDESTACK_LIBVDEPLUG alone when set
//   (a path), else /usr/lib/<multiarch>/libvdeplug.so.2, /lib/<multiarch>/...,
//   /usr/lib/libvdeplug.so.2, then the bare soname "libvdeplug.so.2" (the
//   dynamic linker's search). A candidate that is the very file this code
//   lives in (our own libvdeplug.so.2, src/api/) is skipped -- compared by
//   FileId (device, inode, ctime), before loading for paths and after loading for the soname
//   -- so the fallback inside our libvdeplug can never call itself.
//   Each candidate is loaded with dlopen(RTLD_NOW|RTLD_GLOBAL): nested plugins
//   (vlan://, agno://) call vde_open_real & co. unresolved, i.e. from the
//   global scope, as they do in vde_plug, which links libvdeplug; with
//   RTLD_LOCAL their own dlopen fails. Where a libvdeplug-compatible API is
//   already global (a program running on OUR libvdeplug.so.2), that one comes
//   first in the global scope, so nested plugins open their inner VNL through
//   it (our transports; other schemes back here): consistent, since they then
//   also recv/send/close those connections through it. Debian's libvdeplug
//   itself binds only to its own internals.
//   Under a sanitizer runtime (ASan, TSan, MSan: their dlopen interceptor
//   aborts on the RTLD_DEEPBIND libvdeplug loads plugins with), dlmopen
//   (LM_ID_NEWLM) instead (plain dlopen if that fails): a private link-map
//   namespace, with its own libc and errno, out of the interceptor's reach.
//   It is not the default: a plugin whose libraries create pthread keys
//   there (slirp, through glib) gets key numbers that collide with the main
//   namespace's keys, and corrupts their thread-specific data.
//   Either way errno is read through the loaded library's __errno_location.
//
// Opening: vde_open_real(vnl, descr, 1, NULL) with the whole VNL. NULL with
// EPROTONOSUPPORT or ENOENT, and no libvdeplug_<scheme>.so in the directories
// libvdeplug searches ($VDEPLUGIN_PATH, else <libdir>/vdeplug, <libdir>,
// $LD_LIBRARY_PATH/vdeplug, /lib/vdeplug, /usr/lib/vdeplug), is an unknown
// scheme; any other failure is the plugin's errno. The scheme must be a plain
// name (letters, digits, "_.+-"): libvdeplug builds a file name from it.
// datafd and ctlfd get FD_CLOEXEC (our processes fork helpers).
//
// The transport: poll_fds() = {vde_datafd, vde_ctlfd if >= 0}. vde_recv may
// block (it reads a blocking socket), so recv() polls the datafd with a zero
// timeout before each call, one frame per call: results 0..13 are "dropped"
// (vdeplug4: 1 means received but not for the caller), -1 with EAGAIN/EINTR is
// "nothing now", any other -1 kills the link. 0 is also how udp/cmd say EOF:
// kEofStreak zeros in a row with no frame between make the link dead (EPIPE),
// so a closed pipe cannot spin the engine. At most kMaxDrops non-frames per
// call. The ctl fd readable (data, EOF or error) means the switch hung up:
// dead. send() loops vde_send; errors that mean the peer is gone kill the link,
// others (full buffers, unreachable) drop the frame. vde_send may block where
// the plugin writes a blocking fd (a pipe). A dead link returns -errno from
// then on. No allocation per frame. The destructor calls vde_close.
#include "plug/ext/extplugin.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/file_id.hpp"
#include "base/error.hpp"

namespace vdestack::plug {

namespace {

#if defined(__x86_64__) && defined(__ILP32__)
#define VDESTACK_MULTIARCH "x86_64-linux-gnux32"
#elif defined(__x86_64__)
#define VDESTACK_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define VDESTACK_MULTIARCH "aarch64-linux-gnu"
#elif defined(__i386__)
#define VDESTACK_MULTIARCH "i386-linux-gnu"
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
#define VDESTACK_MULTIARCH "arm-linux-gnueabihf"
#elif defined(__riscv) && __riscv_xlen == 64
#define VDESTACK_MULTIARCH "riscv64-linux-gnu"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VDESTACK_MULTIARCH "powerpc64le-linux-gnu"
#elif defined(__s390x__)
#define VDESTACK_MULTIARCH "s390x-linux-gnu"
#endif

constexpr const char* kSoname = "libvdeplug.so.2";
constexpr int kInterfaceVersion = 1;   // LIBVDEPLUG_INTERFACE_VERSION
constexpr unsigned kMaxDrops = 256;    // non-frames consumed per recv() call
constexpr unsigned kEofStreak = 64;    // zero results in a row = EOF

using OpenFn = void* (*)(char*, char*, int, void*);
using RecvFn = ssize_t (*)(void*, void*, std::size_t, int);
using SendFn = ssize_t (*)(void*, const void*, std::size_t, int);
using FdFn = int (*)(void*);
using ErrnoFn = int* (*)();
using VoidFn = void (*)();

// The loaded libvdeplug: immutable once published.
struct VdePlug {
    void* handle = nullptr;
    std::string path;        // the file loaded
    bool isolated = false;   // dlmopen'd into its own namespace
    OpenFn open = nullptr;
    RecvFn recv = nullptr;
    SendFn send = nullptr;
    FdFn datafd = nullptr;
    FdFn ctlfd = nullptr;
    FdFn close = nullptr;
    ErrnoFn err = nullptr;   // errno of libvdeplug's namespace
    // Isolated: the namespace's own libc sets up its ctype tables (locale
    // TLS) for the thread that loaded it only; a thread of the program that
    // calls in later (a helper thread started after another's dlmopen) runs
    // this first, or isspace() in its getpwuid_r reads a null table.
    VoidFn ctype_init = nullptr;
};

// The file a library path names (links followed: libvdeplug.so.2 is one).
FileId file_id(const char* path) noexcept { return file_id_of(path, true); }

// The object file this code is linked into (an executable, libvdestack.so, or
// our libvdeplug.so.2): identified through the address of a local object.
const char kSelfMarker = 0;
FileId self_file() noexcept {
    Dl_info info{};
    if (::dladdr(&kSelfMarker, &info) == 0) return {};
    return file_id(info.dli_fname);
}

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& out) noexcept {
    void* sym = ::dlsym(handle, name);
    if (sym == nullptr) return false;
    static_assert(sizeof(Fn) == sizeof(void*));
    std::memcpy(&out, &sym, sizeof out);
    return true;
}

std::string loaded_path(void* handle, const std::string& fallback) {
    link_map* lm = nullptr;
    if (::dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm != nullptr && lm->l_name != nullptr && *lm->l_name != '\0')
        return lm->l_name;
    return fallback;
}

// A sanitizer runtime whose dlopen interceptor refuses RTLD_DEEPBIND.
bool sanitizer_runtime() noexcept {
    for (const char* sym : {"__asan_init", "__tsan_init", "__msan_init", "__hwasan_init"})
        if (::dlsym(RTLD_DEFAULT, sym) != nullptr) return true;
    return false;
}

std::optional<VdePlug> try_load(const std::string& candidate, const FileId& self, bool isolate) {
    const bool is_path = candidate.find('/') != std::string::npos;
    if (is_path) {
        const auto id = file_id(candidate.c_str());
        if (!id.valid || id == self) return std::nullopt;
    }
    VdePlug lib;
    if (isolate) lib.handle = ::dlmopen(LM_ID_NEWLM, candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    lib.isolated = lib.handle != nullptr;
    if (lib.handle == nullptr) lib.handle = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (lib.handle == nullptr) return std::nullopt;
    lib.path = loaded_path(lib.handle, candidate);
    const auto id = file_id(lib.path.c_str());
    const bool ok = !(id == self) && resolve(lib.handle, "vde_open_real", lib.open) &&
                    resolve(lib.handle, "vde_recv", lib.recv) && resolve(lib.handle, "vde_send", lib.send) &&
                    resolve(lib.handle, "vde_datafd", lib.datafd) && resolve(lib.handle, "vde_ctlfd", lib.ctlfd) &&
                    resolve(lib.handle, "vde_close", lib.close) && resolve(lib.handle, "__errno_location", lib.err);
    if (!ok) {
        ::dlclose(lib.handle);
        return std::nullopt;
    }
    Lmid_t lmid = LM_ID_BASE;
    if (lib.isolated && ::dlinfo(lib.handle, RTLD_DI_LMID, &lmid) == 0)
        if (void* libc = ::dlmopen(lmid, "libc.so.6", RTLD_NOW | RTLD_NOLOAD)) (void)resolve(libc, "__ctype_init", lib.ctype_init);
    return lib;
}

std::vector<std::string> candidates(const Tuning& t) {
    if (!t.libvdeplug.empty()) return {t.libvdeplug};
    std::vector<std::string> out;
#ifdef VDESTACK_MULTIARCH
    out.emplace_back("/usr/lib/" VDESTACK_MULTIARCH "/libvdeplug.so.2");
    out.emplace_back("/lib/" VDESTACK_MULTIARCH "/libvdeplug.so.2");
#endif
    out.emplace_back("/usr/lib/libvdeplug.so.2");
    out.emplace_back(kSoname);
    return out;
}

// nullptr when no libvdeplug can be loaded. The first call decides for the
// whole process. The VdePlug is never freed: transports keep a reference to
// it, and one may outlive static destruction.
const VdePlug* vdeplug(const Tuning& t) {
    static std::mutex mutex;
    static const VdePlug* lib = nullptr;
    static bool tried = false;
    std::lock_guard lock(mutex);
    if (!tried) {
        tried = true;
        const auto self = self_file();
        const bool isolate = sanitizer_runtime();
        for (const std::string& c : candidates(t)) {
            if (auto loaded = try_load(c, self, isolate)) {
                lib = new VdePlug(std::move(*loaded));
                break;
            }
        }
    }
    return lib;
}

[[noreturn]] void unknown_scheme(std::string_view vnl, std::string_view scheme) {
    fail(EPROTONOSUPPORT, std::string(vnl) + ": unknown VNL scheme '" + std::string(scheme) +
                              "' (no built-in transport and no installed vdeplug4 plugin libvdeplug_" +
                              std::string(scheme) + ".so)");
}

bool plain_name(std::string_view scheme) noexcept {
    if (scheme.empty() || scheme.size() > 64) return false;
    return std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '+' || c == '-';
    });
}

void split_path_list(std::string_view s, const char* suffix, std::vector<std::string>& out) {
    while (!s.empty()) {
        const std::size_t colon = s.find(':');
        const std::string_view dir = s.substr(0, colon);
        if (!dir.empty()) out.push_back(std::string(dir) + suffix);
        if (colon == std::string_view::npos) break;
        s.remove_prefix(colon + 1);
    }
}

// Where libvdeplug looks for libvdeplug_<scheme>.so; "" when it is nowhere.
std::string find_plugin(const VdePlug& lib, std::string_view scheme, const Tuning& t) {
    std::vector<std::string> dirs;
    if (t.vdeplugin_path) {
        split_path_list(*t.vdeplugin_path, "", dirs);
    } else {
        const std::size_t slash = lib.path.rfind('/');
        if (slash != std::string::npos) {
            const std::string libdir = lib.path.substr(0, slash);
            dirs.push_back(libdir + "/vdeplug");
            dirs.push_back(libdir);
        }
        if (t.ld_library_path) split_path_list(*t.ld_library_path, "/vdeplug", dirs);
        dirs.emplace_back("/lib/vdeplug");
        dirs.emplace_back("/usr/lib/vdeplug");
    }
    for (const std::string& d : dirs) {
        std::string file = d + "/libvdeplug_" + std::string(scheme) + ".so";
        if (::access(file.c_str(), F_OK) == 0) return file;
    }
    return {};
}

void set_cloexec(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

// vde_send errors that mean the other end is gone (anything else drops the frame).
bool fatal_send_error(int err) noexcept {
    return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == EBADF || err == ESHUTDOWN ||
           err == ENODEV || err == ENXIO;
}

class ExtPluginTransport final : public Transport {
public:
    ExtPluginTransport(const VdePlug& lib, void* conn, std::string vnl, int datafd, int ctlfd) noexcept
        : lib_(lib), conn_(conn), vnl_(std::move(vnl)), datafd_(datafd), ctlfd_(ctlfd), fds_{datafd, ctlfd},
          nfds_(ctlfd >= 0 ? 2 : 1) {}
    ~ExtPluginTransport() override { lib_.close(conn_); }

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return {fds_, nfds_}; }
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

    ssize_t recv(std::span<FrameBuf> bufs) noexcept override {
        if (dead_ != 0) return -dead_;
        if (bufs.empty()) return 0;
        if (ctlfd_ >= 0) {
            pollfd p{ctlfd_, POLLIN, 0};
            if (::poll(&p, 1, 0) > 0) return die(EPIPE);
        }
        std::size_t n = 0;
        unsigned drops = 0;
        while (n < bufs.size() && drops < kMaxDrops) {
            pollfd p{datafd_, POLLIN, 0};
            const int pr = ::poll(&p, 1, 0);
            if (pr <= 0) break;  // nothing waiting (or EINTR: next time)
            if ((p.revents & POLLNVAL) != 0) {
                dead_ = EBADF;
                break;
            }
            FrameBuf& b = bufs[n];
            *lib_.err() = 0;
            const ssize_t r = lib_.recv(conn_, b.data, b.cap, 0);
            if (r < 0) {
                const int e = *lib_.err();
                if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) break;
                dead_ = e != 0 ? e : EIO;
                break;
            }
            if (static_cast<std::size_t>(r) < kMinFrame) {
                drops++;
                if (r != 0) {
                    zeros_ = 0;
                } else if (++zeros_ >= kEofStreak) {
                    dead_ = EPIPE;
                    break;
                }
                continue;
            }
            zeros_ = 0;
            b.len = std::min(static_cast<std::size_t>(r), b.cap);
            n++;
        }
        if (n == 0 && dead_ != 0) return -dead_;
        return static_cast<ssize_t>(n);
    }

    ssize_t send(std::span<const FrameRef> frames) noexcept override {
        if (dead_ != 0) return -dead_;
        for (std::size_t i = 0; i < frames.size(); i++) {
            const FrameRef& f = frames[i];
            if (f.data == nullptr || f.len < kMinFrame || f.len > kMaxFrame) continue;
            *lib_.err() = 0;
            if (lib_.send(conn_, f.data, f.len, 0) >= 0) continue;
            const int e = *lib_.err();
            if (fatal_send_error(e)) {
                dead_ = e;
                return i > 0 ? static_cast<ssize_t>(i) : -e;
            }
        }
        return static_cast<ssize_t>(frames.size());
    }

private:
    ssize_t die(int err) noexcept {
        dead_ = err;
        return -err;
    }

    const VdePlug& lib_;
    void* conn_;
    std::string vnl_;
    int datafd_;
    int ctlfd_;
    int fds_[2];
    std::size_t nfds_;
    int dead_ = 0;          // errno that killed the link
    unsigned zeros_ = 0;    // consecutive zero-length results
};

}  // namespace

std::string extplugin_library(const Tuning& t) {
    const VdePlug* lib = vdeplug(t);
    return lib != nullptr ? lib->path : std::string();
}

std::unique_ptr<Transport> open_extplugin(std::string_view vnl, std::string_view scheme, const OpenOptions& opts) {
    if (!plain_name(scheme)) unknown_scheme(vnl, scheme);
    const VdePlug* lib = vdeplug(opts.tuning);
    if (lib == nullptr) unknown_scheme(vnl, scheme);

    std::string url(vnl);       // vde_open_real takes writable strings
    std::string descr(opts.descr);
    if (lib->ctype_init != nullptr) lib->ctype_init();
    *lib->err() = 0;
    void* conn = lib->open(url.data(), descr.data(), kInterfaceVersion, nullptr);
    if (conn == nullptr) {
        int err = *lib->err();
        if (err == 0) err = EIO;
        const std::string plugin = find_plugin(*lib, scheme, opts.tuning);
        if ((err == EPROTONOSUPPORT || err == ENOENT) && plugin.empty()) unknown_scheme(vnl, scheme);
        fail(err, std::string(vnl) + ": vde_open through vdeplug4 plugin " +
                      (plugin.empty() ? "libvdeplug_" + std::string(scheme) + ".so" : plugin));
    }
    const int datafd = lib->datafd(conn);
    const int ctlfd = lib->ctlfd(conn);
    if (datafd < 0) {
        lib->close(conn);
        fail(EIO, std::string(vnl) + ": vdeplug4 plugin gave no data fd");
    }
    set_cloexec(datafd);
    if (ctlfd >= 0) set_cloexec(ctlfd);
    try {
        return std::make_unique<ExtPluginTransport>(*lib, conn, std::string(vnl), datafd, ctlfd);
    } catch (...) {
        lib->close(conn);
        throw;
    }
}

}  // namespace vdestack::plug
