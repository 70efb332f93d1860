// tuning.hpp - every setting of vdestack++ that comes from the environment,
// read in one place (Tuning::from_env) into one plain struct that the
// entry points pass down: the helper's main, vdens, vde_plug, the
// libvdeplug shim's vde_open and the client library. Nothing below those
// entry points reads the environment, so every layer can be configured
// (and tested) by building a Tuning by hand. A default-constructed Tuning
// is the documented default of every setting.
//
// Variables (all optional):
//   VDESTACK_OFFLOAD     tap offloads: unset/1/on/all, 0/off/none, or a list
//                        of csum,tso,gro,whole (parse_offloads)
//   VDESTACK_SPIN_US     busy-polling window in microseconds, 0 = off (50)
//   VDESTACK_UDP_GSO     0 turns UDP segmentation/GRO of the UDP transports off
//   VDESTACK_FABRIC      0 turns the helper's local fabric off
//   VDESTACK_SHARED_GROUPS  0: each stack of a helper has its own vxvde
//                        group socket (by default they share one per network)
//   VDESTACK_SNOOP       0: a shared group socket gives every IP multicast to
//                        every stack (by default only to those that joined it)
//   VDESTACK_ENGINES     engine threads of a helper (default: CPUs, at most 4)
//   VDESTACK_USERNS      1: the helper enters a user namespace even as root
//   VDESTACK_DIRECT_SOCKETS  0: vde_msocket always asks the helper (by
//                        default a privileged program makes its sockets
//                        itself, setns on the calling thread)
//   VDESTACK_HELPER      the vdestack-helper program to run
//   VDESTACK_HELPER_LINGER_MS  how long a process's helper outlives its last
//                        stack, for a stack made meanwhile (50; 0: it is
//                        shut down by the last vde_delstack itself)
//   VDESTACK_HELPER_THREAD  0: the helper is a process even where it could be
//                        a thread of the program (by default a root program's
//                        helper is a thread: see helper_in_thread)
//   VDESTACK_LIBVDEPLUG  the libvdeplug.so.2 that serves other schemes
//   VDEPLUGIN_PATH, LD_LIBRARY_PATH  where vdeplug4 plugins are looked for
//   HOME                 vdeplug4's default network (~/.vdeplug/default)
// Thread-safety: from_env() only reads; a Tuning is a value.
#pragma once

#include <optional>
#include <string>

namespace vdestack {

// Which tap offloads are used (see frame/offload.hpp).
struct OffloadConfig {
    bool csum = false;   // partial checksums from the stack, finished in user space
    bool tso = false;    // 64 KiB TCP super-segments, cut in user space
    bool gro = false;    // coalescing of received TCP segments
    bool whole = false;  // super-segments whole to a peer that takes them (wire/whole.hpp)
    [[nodiscard]] bool vnet_hdr() const noexcept { return csum || tso || gro; }
    [[nodiscard]] static constexpr OffloadConfig all() noexcept { return {true, true, true, true}; }
    bool operator==(const OffloadConfig&) const = default;
};

// VDESTACK_OFFLOAD's syntax: unset (nullptr), "", "1", "on", "all": all;
// "0", "off", "none": none; else a ','-separated list of "csum", "tso"
// (implies csum), "gro", "whole" (unknown words are ignored).
[[nodiscard]] OffloadConfig parse_offloads(const char* text) noexcept;

struct Tuning {
    static constexpr long kDefaultSpinUs = 50;
    static constexpr long kDefaultLingerMs = 50;

    OffloadConfig offload = OffloadConfig::all();
    long spin_us = kDefaultSpinUs;  // 0: no busy polling; at most 1 s
    bool udp_gso = true;            // UDP_SEGMENT/UDP_GRO in udp://, vxvde://, vxlan://
    bool fabric = true;             // tap-to-tap delivery between stacks of one helper
    bool shared_groups = true;      // one vxvde group socket per network in a helper
    bool snoop = true;              // IGMP/MLD snooping on a shared group socket
    long engines = 0;               // engine threads; 0: one per CPU, at most 4
    bool force_userns = false;      // a user namespace even as root
    bool direct_sockets = true;     // msocket by setns in the caller where permitted
    std::string helper;             // "": look next to the library, then the install dir
    long linger_ms = kDefaultLingerMs;  // helper kept after the last stack; at most 10 s
    bool helper_thread = true;      // the helper as a thread of the program where it may be
    std::string libvdeplug;         // "": the system's libvdeplug.so.2
    std::optional<std::string> vdeplugin_path;   // VDEPLUGIN_PATH, when set
    std::optional<std::string> ld_library_path;  // LD_LIBRARY_PATH, when set
    std::string home;               // HOME ("" when unset)

    bool operator==(const Tuning&) const = default;

    // The settings of this process's environment. Never throws but bad_alloc.
    [[nodiscard]] static Tuning from_env();

    // Whether a helper started with these settings by this process runs in a
    // user namespace of its own (not root, or force_userns): then only the
    // helper can make its stacks' namespaces, else the program may make one
    // for it (the first stack's, while the helper starts).
    [[nodiscard]] bool helper_userns() const noexcept;

    // Whether the helper runs as a thread of this process rather than as a
    // process of its own: asked for (helper_thread) and possible (no user
    // namespace of its own: helper_userns() false).
    [[nodiscard]] bool helper_in_thread() const noexcept;
};

}  // namespace vdestack
