// transport.hpp - the one interface every VDE transport ("plug") implements.
//
// Theory of operation
// -------------------
// A transport moves raw Ethernet frames (no FCS) between this process and a VDE
// network named by a VNL ("vxvde://234.0.0.1", "null://", ...). It is chosen by
// the URL scheme through open_transport(). The interface is batch-oriented: one
// call receives or sends many frames, so that UDP transports can use
// recvmmsg/sendmmsg and the forwarding engine pays one wake-up per batch.
// What a transport is (drained by a short recv, able to carry whole
// super-segments, the name of its network for the local fabric) is one
// Capabilities record, set when it opens; the virtual methods are the frame
// path and the state that changes (pending(), sends_whole()). Settings come
// in OpenOptions::tuning, never from the environment. Families live in
// sub-folders (udp/, unix/, stream/, host/, wrap/, ext/); registry.cpp maps
// schemes to their openers, dgram_batch.hpp is their one datagram loop.
//
// Threading: a transport object is used by one thread at a time (the engine's
// event loop); it is not internally locked. Its fds are owned by the object and
// closed by its destructor, which also says goodbye to the network where the
// protocol has a goodbye (vxvde's leave message).
//
// Netns: a transport creates every socket it needs in open(), in the network
// namespace of the calling thread; recv/send never depend on the caller's netns.
//
// Errors: open throws vdestack::Error (EPROTONOSUPPORT for an unknown scheme,
// EINVAL for bad options, with a message naming the VNL and the key). recv/send
// never throw; they return a count or -errno for a fatal condition of the link
// (the peer hung up). Frames that cannot be sent now (full socket buffer) are
// dropped, like a NIC drops on a full queue.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/tuning.hpp"
#include "frame/buffer.hpp"

namespace vdestack::plug {

// The frame vocabulary of frame/buffer.hpp, in the transports' own terms.
using frame::FrameBuf;
using frame::FrameRef;
using frame::kMaxFrame;
using frame::kMinFrame;

// What a transport is, fixed when it opens: one record that the engine reads,
// instead of a virtual question per wake-up. Dynamic state (frames held now,
// whether the peer takes whole frames now) stays in the methods below.
struct Capabilities {
    // A recv() that fills fewer than bufs.size() slots has left nothing
    // ready: every frame waiting is still in a poll fd (no frame held in user
    // space beyond what pending() reports), so a level-triggered poller need
    // not call recv() again until one is readable. The engine then skips the
    // recv() that would only return 0 (two to four syscalls per wake-up that
    // latency pays for). Transports that hold frames in user space (delays,
    // queues) keep false.
    bool drained_when_short = false;
    // Can carry whole TCP super-segments (wire/whole.hpp) to a peer of ours:
    // accept_whole(), sends_whole() and send_whole() below do something.
    bool whole = false;
    // A name for the network this transport joins, identical for every
    // transport of this process that joins the same network (vxvde: group,
    // port, VNI, interface), empty when not known or when frames must go
    // through the transport (wrappers, switches, cables). The engine delivers
    // unicast frames between stacks of one process on the same named network
    // straight from tap to tap (engine/fabric.hpp).
    std::string local_segment;
};

// Sockets that several transports of this process share (vxvde's,
// udp/vxvde_group.hpp). Each engine that runs such a transport attaches
// once, however many of its stacks use the source, and polls the fds that
// attach() gives it (some shared by every engine, some its own); when one
// is readable it calls drain(fd), which reads what waits (a bounded
// amount) and hands each frame straight to the Inbox of every transport it
// is for. Thread-safe: several engines may drain at once (readers of one
// socket take turns, in arrival order).
class SharedSource {
public:
    virtual ~SharedSource() = default;
    // The fds engine `reader` (a token, the same for all calls of one
    // engine) must poll from now on; constant until it detaches. Throws
    // Error (a socket it opens for that engine) or bad_alloc.
    [[nodiscard]] virtual std::span<const int> attach(const void* reader) = 0;
    // `reader` polls them no more (once per attach).
    virtual void detach(const void* reader) noexcept = 0;
    virtual void drain(int fd) noexcept = 0;
};

// Where a SharedSource writes a transport's frames: a tap (with a zero
// virtio_net_hdr before each frame when `vnet`), and the engine that runs
// it (its token for attach()). fd -1: nowhere (the stack is frozen or
// going), its frames are dropped.
struct Inbox {
    int fd = -1;
    bool vnet = false;
    const void* reader = nullptr;
};

// The shared sources of one process, by network: one per key for as long as
// a transport holds it. Owned by the entry point (the helper) and passed in
// OpenOptions::shared; thread-safe.
class SharedSources {
public:
    // The source for `key`, made by make() when there is none alive.
    std::shared_ptr<SharedSource> get(const std::string& key,
                                      const std::function<std::shared_ptr<SharedSource>()>& make);

private:
    std::mutex mu_;
    std::unordered_map<std::string, std::weak_ptr<SharedSource>> map_;
};

class Transport {
public:
    virtual ~Transport() = default;
    Transport() = default;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // The fds to poll for EPOLLIN: frames may be waiting when any of them is
    // readable. Valid for the lifetime of the object.
    [[nodiscard]] virtual std::span<const int> poll_fds() const noexcept = 0;

    // Receives up to bufs.size() frames without blocking. Returns the number of
    // slots filled (0: nothing waiting now), or -errno if the link is dead.
    // Datagrams that are not frames for us (wrong header, self-sent, control
    // messages, runts) are consumed and not counted. A transport may fill a
    // slot by pointing its `data` at memory of its own (vxvde's GRO mode):
    // callers read bufs[i].data, valid until the next recv() on this object.
    virtual ssize_t recv(std::span<FrameBuf> bufs) noexcept = 0;

    // True when frames are held in user space that the next recv() returns
    // although no poll fd need be readable (a coalesced datagram split into
    // more frames than the last recv() had slots for). A poller must call
    // recv() again before it sleeps.
    [[nodiscard]] virtual bool pending() const noexcept { return false; }

    // Sends the frames without blocking. Returns how many were consumed (sent
    // or dropped because the network could not take them now), or -errno if
    // the link is dead. Frames shorter than kMinFrame are dropped.
    virtual ssize_t send(std::span<const FrameRef> frames) noexcept = 0;

    // Whole frames (wire/whole.hpp): between two of our ends a TCP
    // super-segment may travel as one datagram with its virtio_net_hdr.
    // accept_whole(true) says that the caller can take such frames from
    // recv() (it writes them to a tap with IFF_VNET_HDR): a transport that
    // can carry them then offers to take them from its peer. sends_whole()
    // is true while the peer has said it takes them; send_whole() then
    // sends one (iov: the 10-byte virtio_net_hdr, then the frame's parts).
    // Returns like send() (1: sent or dropped). Defaults: not supported
    // (Capabilities::whole false).
    virtual void accept_whole(bool /*yes*/) noexcept {}
    [[nodiscard]] virtual bool sends_whole() const noexcept { return false; }
    virtual ssize_t send_whole(std::span<const iovec> /*vnet_and_frame*/) noexcept { return 1; }

    // The shared source this transport's inbound frames partly come from
    // (nullptr: recv() returns them all). Constant for the object's life;
    // the source outlives every transport that returns it.
    [[nodiscard]] virtual SharedSource* shared_source() noexcept { return nullptr; }
    // Where shared_source() delivers this transport's frames from now on. On
    // return no frame is written to the previous inbox. Thread-safe with the
    // source's drain(). Transports without a source ignore it.
    virtual void set_inbox(Inbox /*inbox*/) noexcept {}

    // The VNL this transport was opened with (for messages).
    [[nodiscard]] virtual const std::string& vnl() const noexcept = 0;

    // What this transport is (set by its constructor, constant afterwards).
    [[nodiscard]] const Capabilities& caps() const noexcept { return caps_; }

protected:
    Capabilities caps_;
};

struct OpenOptions {
    std::string descr = "vdestack";  // description shown by switches
    Tuning tuning;                   // the process's settings (base/tuning.hpp)
    // The process's shared sources (nullptr: none). Only a caller that runs
    // the transport in an engine::Engine (which sets its Inbox) passes them:
    // a vxvde transport then shares its group's multicast socket with the
    // other transports of this process on the same network. Wrappers do not
    // pass them on. Not owned; outlives the transport.
    SharedSources* shared = nullptr;

    // The options a wrapper opens its inner transport with (no shared
    // sources: nobody sets a wrapped transport's Inbox).
    [[nodiscard]] OpenOptions for_wrapped() const {
        OpenOptions o = *this;
        o.shared = nullptr;
        return o;
    }
};

// Opens the transport named by `vnl`. Throws vdestack::Error:
//   EPROTONOSUPPORT  unknown scheme (message names it)
//   EINVAL           unknown option key or bad value (message names VNL and key)
//   other errno      from the system call that failed (message names it)
// Thread-safe (no shared state); sockets are created in the caller's netns.
std::unique_ptr<Transport> open_transport(std::string_view vnl, const OpenOptions& opts = {});

}  // namespace vdestack::plug
