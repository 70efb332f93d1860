// null.cpp - the null:// transport: sends vanish, nothing arrives, the poll fd
// (an eventfd nobody writes) never fires. Like vdeplug4's null module, it
// ignores whatever follows "null://".
#include "plug/host/null.hpp"

#include <sys/eventfd.h>

#include <string>
#include <utility>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace vdestack::plug {

namespace {

class NullTransport final : public Transport {
public:
    NullTransport(std::string vnl, UniqueFd fd) : vnl_(std::move(vnl)), fd_(std::move(fd)), fds_{fd_.get()} {}

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return {fds_, 1}; }
    ssize_t recv(std::span<FrameBuf>) noexcept override { return 0; }
    ssize_t send(std::span<const FrameRef> frames) noexcept override { return static_cast<ssize_t>(frames.size()); }
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    std::string vnl_;
    UniqueFd fd_;
    int fds_[1];
};

}  // namespace

std::unique_ptr<Transport> open_null(std::string_view vnl, std::string_view /*rest*/, const OpenOptions& /*opts*/) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) fail_errno(std::string(vnl) + ": eventfd");
    return std::make_unique<NullTransport>(std::string(vnl), std::move(fd));
}

}  // namespace vdestack::plug
