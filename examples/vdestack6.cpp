// vdestack6.cpp - the tutorial's echo server written with the C++ API.
//
// A vde::Stack on a VNL (default vxvde://234.0.0.1) configured with
// Stack::run (busybox ip, as the tutorial), one IPv6 listening socket that
// also accepts IPv4, one thread per connection. Errors arrive as
// vde::Error exceptions that name the call and the VNL.
//
//   usage: vdestack6xx [VNL [ADDR4/LEN [ADDR6/LEN [PORT]]]]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "vdestack/stack.hpp"

namespace {

void echo(vde::Socket conn) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(conn.get(), buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(conn.get(), buf + off, static_cast<size_t>(n - off));
            if (w <= 0) return;
            off += w;
        }
}

}  // namespace

int main(int argc, char* argv[]) {
    std::string vnl = argc > 1 ? argv[1] : "vxvde://234.0.0.1";
    std::string a4 = argc > 2 ? argv[2] : "10.0.0.50/24";
    std::string a6 = argc > 3 ? argv[3] : "fc00::1:50/64";
    int port = argc > 4 ? std::atoi(argv[4]) : 5000;
    std::signal(SIGPIPE, SIG_IGN);
    try {
        vde::Stack stack(vnl);
        int rv = stack.run("/bin/busybox ip addr add " + a4 + " dev vde0; /bin/busybox ip addr add " + a6 +
                           " dev vde0; /bin/busybox ip link set vde0 up");
        if (rv != 0) {
            std::fprintf(stderr, "configuration failed: exit status %d\n", rv);
            return 1;
        }
        vde::Socket listener = stack.socket(AF_INET6, SOCK_STREAM);
        int one = 1;
        ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_port = htons(static_cast<uint16_t>(port));
        addr.sin6_addr = in6addr_any;
        if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener.get(), 16) != 0)
            throw vde::Error(errno, "bind/listen on port " + std::to_string(port));
        std::printf("READY %d\n", port);
        std::fflush(stdout);
        for (;;) {
            int c = ::accept(listener.get(), nullptr, nullptr);
            if (c < 0) {
                if (errno == EINTR) continue;
                throw vde::Error(errno, "accept");
            }
            std::thread(echo, vde::Socket(c)).detach();
        }
    } catch (const vde::Error& e) {
        std::fprintf(stderr, "vdestack6xx: %s\n", e.what());
        return 1;
    }
}
