// engine.hpp - the forwarding engine: one event loop that moves frames
// between the taps of its stacks and their VDE transports.
//
// Theory of operation
// -------------------
// An Engine runs on one thread and waits in one epoll instance on: its
// control fds (the eventfd through which EngineThread hands it jobs; for the
// helper's first engine, which runs on the helper's main thread, the
// helper's connections; vdens' pidfd), every tap fd of its stacks and every
// fd of their transports. The helper runs a fixed number of them
// (engine_thread.hpp: one per CPU, at most 4, the first on its main thread)
// and gives each new stack to the least loaded, so the forwarding of all
// stacks of a process costs a constant number of threads whatever their
// number; a stack costs its fds and two hash-map entries. vdens runs one
// Engine on its main thread. Its settings (offloads, spin window) come from
// the Tuning it is built with; the Fabric it is given is shared with the
// other engines of the process and outlives them.
//
// epoll data = (stack id << 2) | kind, kind = control / tap / link; events are
// resolved through the id map, so a stack removed while events for it are
// still pending in the same batch is simply not found (no dangling pointer).
//
// On a tap event the engine reads frames until EAGAIN or a budget (fairness
// between stacks; epoll is level-triggered, so the rest comes next round) and
// hands them to the transport in batches of kBatch. On a link event it asks
// the transport for batches and writes each frame to the tap. Frame buffers
// are allocated once (kBatch x kMaxFrame, plus one 64 KiB buffer for a TCP
// super-segment): no allocation per frame, and an ordinary frame is copied
// only by the kernel (tap -> buffer -> socket).
//
// Offloads (offload.hpp; VDESTACK_OFFLOAD=0 turns them off). A tap opened
// with IFF_VNET_HDR (StackEntry::vnet, found by TUNGETIFF in add()) carries a
// virtio_net_hdr before every frame, both ways:
//  - tap -> link: readv() puts the header aside, the frame in the next free
//    slot and anything beyond kSlot in the 64 KiB buffer. An ordinary frame
//    with NEEDS_CSUM gets its checksum completed in place; a GSO frame (TSO:
//    up to 64 KiB of one TCP flow) is cut into MSS-sized ordinary frames in
//    the following slots, the batch being sent whenever the slots run out.
//    So only ordinary frames <= kMaxFrame ever reach a transport (its peers
//    are plain VDE peers). The budget counts frames sent, not reads.
//  - link -> tap: with GRO, each received batch goes through frame::Gro,
//    which coalesces the in-order segments of a TCP flow into one GSO frame
//    (checksums verified first) written with writev() straight from the
//    slots; the others are written as they came, behind a zero header.
// Without IFF_VNET_HDR (offloads off, or an older tap) frames go through
// read()/write() untouched, as before.
//
// Local fabric (fabric.hpp): a stack whose transport names its network
// (Capabilities::local_segment, e.g. vxvde) joins that segment of the helper's fabric in
// add(); on_tap_vnet() teaches it the source MACs it reads and hands it each
// unicast frame first: a frame for another stack of this process on the same
// network is written whole (GSO included) to that stack's tap and never
// reaches the transport. remove() and drop_link() take the stack out of the
// fabric before its tap or link goes.
//
// Busy polling, adaptive: after a wake-up that did work, run() keeps
// polling epoll without sleeping for up to spin_us_ (Tuning::spin_us, default
// 50; VDESTACK_SPIN_US=N sets it, 0 turns it off). On this kind of machine (a
// VM) a sleeping thread costs ~25 us per wake-up, and a frame crossing two
// engines (stack <-> vdens) meets four of them per round trip: the 1-byte
// echo drops from ~140 us to ~30-40 us. A spin that finds work keeps the
// engine spinning; one that finds nothing doubles a back-off (up to 64
// wake-ups without any spin), so a trickle whose gaps exceed the window
// stops costing CPU after a few frames, an idle engine never spins, and the
// CPU spent spinning is at most spin_us_ per 64 wake-ups when spins fail.
// The spin runs in the helper (or vdens) process, never in the threads of
// the program that uses the stacks.
//
// Held frames: a transport may hold frames in user space (vxvde's GRO mode
// splits one coalesced datagram into up to 64 frames, Transport::pending()).
// When on_link() stops on its budget with frames held, the stack goes on the
// ready list; run() then polls epoll without sleeping and calls on_link()
// for the listed stacks after the events of that round, so held frames never
// wait for a datagram that may not come.
//
// Shared sources (plug::SharedSource: the sockets of a vxvde network that
// all stacks of the helper on it share): a link that names one has its own
// poll fds (if any) watched as usual; the engine attaches to the source once
// (attach(this)) when its first stack on it comes, watches the fds it gets
// (EPOLLEXCLUSIVE, kind kShared: the group socket, which every engine
// polls, and a unicast socket of this engine's own), and detaches when the
// last goes. drain(fd) writes frames into the taps of the stacks they are
// for: the engine gives each such link its stack's tap as Inbox (with
// itself as reader, so that the stack sends from this engine's socket and
// its unicast frames are read here) in add() and thaw, and takes it away
// (Inbox{}) before a freeze, a remove or a dropped link, so that no frame
// enters a frozen stack or a tap about to close.
//
// A transport that reports a dead link (-errno from recv/send) is taken out
// of the loop; its stack stays alive (its sockets keep working locally) and
// the error is remembered for diagnostics. Nothing here throws after start.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <array>
#include <vector>

#include "plug/transport.hpp"
#include "base/tuning.hpp"
#include "engine/fabric.hpp"
#include "frame/offload.hpp"
#include "frame/spin.hpp"
#include "base/fd.hpp"

namespace vdestack::engine {

struct StackEntry {
    std::uint64_t id = 0;
    std::string vnl;
    std::string ifname;
    UniqueFd netns;  // the stack's netns, kept only without a tap (which holds it)
    UniqueFd tap;    // invalid for a loopback-only stack
    std::unique_ptr<plug::Transport> link;
    int link_error = 0;  // errno that killed the link, 0 while alive
    bool vnet = false;   // the tap has IFF_VNET_HDR (set by Engine::add)
    bool ready = false;  // on the engine's ready list (its link holds frames)
    bool frozen = false; // Engine::freeze: nothing forwarded either way
    std::uint32_t segment = 0;            // fabric segment (fabric.hpp), 0: none
    std::array<std::byte, 6> src_mac{};   // the source MAC last taught to the fabric
    std::uint64_t frames_out = 0, frames_in = 0;
};

class Engine {
public:
    static constexpr std::size_t kBatch = 64;
    static constexpr std::size_t kBudget = 4 * kBatch;  // frames per fd per wake-up
    static constexpr std::size_t kSlot = plug::kMaxFrame + 1;  // +1: a longer frame shows as too long
    // A GSO frame: 64 KiB of IP packet + Ethernet header and tags, with room to spare.
    static constexpr std::size_t kBig = 65536 + 512;

    // Forwards with the offloads and spin window of `tuning`, delivering
    // between stacks through `fabric` (shared with the other engines of this
    // process; nullptr: none). Throws Error (epoll_create1).
    Engine(const Tuning& tuning, Fabric* fabric);

    // Registers the control fd; on_control is called when it is readable (or
    // hung up) and returns false to stop the loop.
    void set_control(int fd, std::function<bool()> on_control);
    // Several control fds (the helper's connections, when it forwards on its
    // main thread): on_control(id) is called when the fd watched with that
    // id is readable or hung up, and returns false to stop the loop. An fd
    // is unwatched before it is closed. Throw Error (epoll_ctl).
    void set_control(std::function<bool(std::uint64_t)> on_control) { on_control_ = std::move(on_control); }
    void watch_control(int fd, std::uint64_t id) { watch(fd, id, kControl); }
    void unwatch_control(int fd) noexcept;
    // Takes the stack and starts forwarding for it. Throws Error (epoll_ctl).
    void add(std::unique_ptr<StackEntry> entry);
    // Forwards what the stack's tap still holds (one read budget), stops
    // forwarding and hands the stack back (the caller destroys it: closing
    // a tap is slow, see Reaper). nullptr if there is no such stack.
    std::unique_ptr<StackEntry> remove(std::uint64_t id);
    // Freezes (on) or thaws a stack: while frozen no frame leaves its tap or
    // enters it (from its link or the fabric); frames wait in the tap's and
    // the link's queues (or are dropped when those are full). A stack being
    // moved is frozen so that its kernel answers nothing (no RST). False if
    // there is no such stack. Throws Error (epoll_ctl) on thaw.
    bool freeze(std::uint64_t id, bool on);
    [[nodiscard]] StackEntry* find(std::uint64_t id);
    [[nodiscard]] std::size_t size() const { return stacks_.size(); }
    std::vector<std::unique_ptr<StackEntry>> remove_all();

    // Runs until on_control returns false.
    void run();

private:
    enum Kind : std::uint64_t { kControl = 0, kTap = 1, kLink = 2, kShared = 3 };
    // A shared source polled for the stacks of this engine that use it.
    static constexpr std::uint64_t kMaxSharedFds = 4;  // fds of one shared source
    struct SharedWatch {
        plug::SharedSource* src;
        std::uint64_t id;     // epoll data of fds[i]: ((id * kMaxSharedFds + i) << 2) | kShared
        std::size_t users;    // stacks of this engine whose link uses it
        std::array<int, kMaxSharedFds> fds;  // what attach() gave this engine
        std::size_t nfds;
    };
    void attach_shared(StackEntry& s);
    void detach_shared(StackEntry& s);
    void watch(int fd, std::uint64_t id, Kind kind);
    void drop_link(StackEntry& s, int err);
    void on_tap(StackEntry& s);
    void on_tap_vnet(StackEntry& s);
    // Hands a frame read by on_tap_vnet() to the fabric; true if it took it.
    bool to_fabric(StackEntry& s, std::byte* hdr, std::byte* slot, std::size_t flen);
    bool send_batch(StackEntry& s, std::size_t n);
    void on_link(StackEntry& s);

    UniqueFd epfd_;
    std::function<bool(std::uint64_t)> on_control_;
    std::unordered_map<std::uint64_t, std::unique_ptr<StackEntry>> stacks_;
    // Frame memory, never zeroed: only bytes the kernel wrote are read, and
    // untouched pages cost nothing (zeroing them cost a lone stack ~1 ms of
    // page faults per engine at helper start).
    struct RawBuf {
        std::unique_ptr<std::byte[]> p;
        std::size_t n = 0;
        RawBuf() = default;
        explicit RawBuf(std::size_t size) : p(std::make_unique_for_overwrite<std::byte[]>(size)), n(size) {}
        [[nodiscard]] std::byte* data() const noexcept { return p.get(); }
        [[nodiscard]] bool empty() const noexcept { return n == 0; }
    };
    RawBuf pool_;  // kBatch slots of kSlot bytes
    std::vector<plug::FrameBuf> bufs_;
    std::vector<plug::FrameRef> refs_;
    frame::Config offload_;
    RawBuf big_;  // kBig: a GSO frame read from a tap (allocated with the first vnet tap)
    frame::TsoSegmenter tso_;
    long spin_us_;  // busy polling after events (Tuning::spin_us), 0: off
    frame::SpinPolicy spin_;
    Fabric* fabric_;  // not owned; nullptr: no local fabric
    std::vector<std::uint64_t> ready_, ready_now_;  // stacks whose link holds frames
    std::vector<SharedWatch> shared_;
    std::uint64_t next_shared_ = 1;
    frame::Gro gro_{kBatch};
};

}  // namespace vdestack::engine
