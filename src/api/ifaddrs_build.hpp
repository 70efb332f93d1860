// ifaddrs_build.hpp - (private to api/) the two halves of ioth_getifaddrs()
// (ioth_ifaddrs.cpp), apart so that tests and the fuzzer reach them: the
// pure builder of the list from rtnetlink dump replies, and the dialog with
// a stack under a given time bound.
#pragma once

#include <ifaddrs.h>

#include <chrono>
#include <cstddef>
#include <span>

struct ioth;

namespace vde::capi {

// How long ioth_getifaddrs() waits for each of its two dumps.
inline constexpr std::chrono::milliseconds kIfaddrsDumpTimeout{5000};

// The getifaddrs(3) list of a RTM_GETLINK dump and a RTM_GETADDR dump (the
// messages of each as received, datagrams appended; what follows an
// NLMSG_DONE is ignored): 0 and *ifap (NULL for an empty list), to be freed
// with ioth_freeifaddrs(); or -1 with errno (an NLMSG_ERROR's error, EPROTO
// for bytes that are not whole messages, ENOMEM) and *ifap NULL. Never reads
// outside the spans, whatever they hold.
int build_ifaddrs(std::span<const std::byte> links, std::span<const std::byte> addrs, struct ifaddrs** ifap) noexcept;

// ioth_getifaddrs() waiting at most `timeout` for each dump (ETIMEDOUT).
int getifaddrs_within(struct ioth* stack, struct ifaddrs** ifap, std::chrono::milliseconds timeout) noexcept;

}  // namespace vde::capi
