// reply.hpp - the helper's answers: one Reply (helper_proto.hpp) with its
// text, and perhaps an fd, written to a request's reply socket.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "base/scm.hpp"
#include "wire/helper_proto.hpp"

namespace vdestack::helper {

// The bytes of a Reply with its text (cut at kMaxMessage).
inline std::vector<std::byte> make_reply(int rval, int err, std::uint64_t id, const std::string& msg) {
    wire::proto::Reply r;
    r.rval = rval;
    r.err = err;
    r.stack = id;
    const std::size_t len = std::min(msg.size(), wire::proto::kMaxMessage);
    r.msglen = static_cast<std::uint32_t>(len);
    std::vector<std::byte> out(sizeof r + len);
    std::memcpy(out.data(), &r, sizeof r);
    std::memcpy(out.data() + sizeof r, msg.data(), len);
    return out;
}

// Sends a Reply (and passfds) on the reply socket fd; errors are the
// caller's problem no more (a caller gone away).
inline void send_reply(int fd, int rval, int err, std::uint64_t id, const std::string& msg,
                       std::span<const int> passfds) {
    auto bytes = make_reply(rval, err, id, msg);
    (void)send_with_fds(fd, bytes, passfds);
}
// The same with one fd (when >= 0).
inline void send_reply(int fd, int rval, int err, std::uint64_t id, const std::string& msg, int passfd = -1) {
    std::array<int, 1> fds{passfd};
    send_reply(fd, rval, err, id, msg, passfd >= 0 ? std::span<const int>(fds) : std::span<const int>());
}

}  // namespace vdestack::helper
