// proto.hpp - the private protocol between the library (client) and its
// namespace helper process (vdestack-helper, see helper.hpp).
//
// Transport: one AF_UNIX SOCK_SEQPACKET socketpair per helper ("channel").
// On start the helper writes one Hello on the channel; from then on only
// clients write to it. Every request carries, as its first SCM_RIGHTS fd, one
// end of a fresh socketpair on which the helper writes exactly one Reply
// (plus the new socket for MSocket). So any process holding the channel --
// the creator, threads, forked children -- gets its own answer, and a dead
// helper shows up as EOF on the reply socket, never as a hang.
//
// fork(): the library's fork handler attaches a new connection for the child
// before fork() returns (Attach), so each process holds its own references:
// a stack lives until every process holding it deleted it or died (EOF).
//
// Both ends are the same build (the helper is found next to the library or
// in its libexec dir), but the version is still checked in Hello.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdestack::wire::proto {

inline constexpr std::uint32_t kMagic = 0x76647370;  // "vdsp"
inline constexpr std::uint32_t kVersion = 5;
inline constexpr std::size_t kMaxRequest = 65536;  // whole request incl. strings
inline constexpr std::size_t kMaxMessage = 4096;   // text in a Reply (an error, a resolv.conf)
inline constexpr std::uint32_t kMaxSocketBatch = 64;  // sockets of one MSocket (SCM_RIGHTS limits a message)
// AddStack's flags: the stack's namespace comes with it (fds[1]), and its tap too (fds[2]).
inline constexpr std::uint32_t kAddStackGivenNetns = 1;
inline constexpr std::uint32_t kAddStackGivenTap = 2;
inline constexpr int kChannelFd = 0;               // where the helper finds the channel (its stdin)

enum class Op : std::uint32_t {
    AddStack = 1,  // str1 = VNL ("" = no interface), str2 = ifname -> Reply.stack;
                   // flags kAddStackGivenNetns: fds[1] = its new namespace, empty but
                   // for kAddStackGivenTap: fds[2] = its tap there (device/tap_device.hpp)
    DelStack = 2,  // stack; sent with no reply socket it gets no answer (vde_delstack's way)
    MSocket = 3,   // stack, domain/type/protocol, flags = how many (0 or 1: one; at most kMaxSocketBatch)
                   // -> the fds attached to the Reply
    StackCmd = 4,  // stack, str1 = command line; fds[1..3] = caller's stdio (flags bit i = fd i present)
    Shutdown = 5,  // this connection is done (its stacks released); rval 1: the helper exits now
    Attach = 6,    // fds[1] = a new connection (for a forked child) holding the stacks this one holds
    Status = 7,    // stack -> Reply.err = errno that killed its link (0 while it works)
    AddIface = 8,  // stack, str1 = VNL, str2 = ifname: one more interface in the stack's namespace
    Config = 9,    // stack, str1 = an ioth_config string (flags 1: stack=/vnl= allowed) -> rval = mask of what succeeded (or -1),
                   // err/text = the first failure (text + "\n" + state with "debug")
    ConfQuery = 10,  // stack, str1 = iface, domain = ifindex; flags 0: rval 1 + resolv.conf text,
                     // 0 if unchanged since the last query; flags 1: text = the DHCPv4 lease, 2: the DHCPv6 one
    Freeze = 11,     // stack; flags 1: freeze it (its interfaces forward nothing), 0: thaw it
    Netns = 12,      // stack -> its network namespace's fd attached (a privileged client makes sockets there itself)
};

struct Request {
    std::uint32_t magic = kMagic;
    std::uint32_t version = kVersion;
    Op op{};
    std::uint32_t flags = 0;
    std::uint64_t stack = 0;
    std::int32_t domain = 0, type = 0, protocol = 0;
    std::uint32_t len1 = 0, len2 = 0;  // lengths of the two strings that follow the struct
};

struct Reply {
    std::int32_t rval = 0;  // result (status, 0), or -1
    std::int32_t err = 0;   // errno when rval == -1
    std::uint64_t stack = 0;
    std::uint32_t msglen = 0;  // bytes of error text that follow
};

struct Hello {
    std::uint32_t magic = kMagic;
    std::uint32_t version = kVersion;
    std::int32_t err = 0;  // 0 = ready; else errno of the failed set-up
    std::int32_t userns = 0;  // 1 if the helper runs in its own user namespace
    char message[kMaxMessage] = {};
};

}  // namespace vdestack::wire::proto
