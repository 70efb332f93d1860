// fuzz_netlink.cpp - libFuzzer target: the reply parsing of our nlinline.h.
// A fake "stack" (NLINLINE_LIBMULTI with our own socket functions) answers
// every request with the fuzzer's bytes, the first header's sequence number
// patched to the request's so the parser really reads them; a second read
// times out. Each call must return 0/-1 (or an index) and never crash or
// read out of bounds.
#include <errno.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "nlinline+.h"

namespace {
const std::uint8_t* g_data;
std::size_t g_size;
std::uint32_t g_seq;
int g_reads;

int fz_msocket(void*, int, int, int) { return 1000; }  // a fake fd: never used as one
int fz_bind(int, struct sockaddr*, socklen_t) { return 0; }
ssize_t fz_send(int, const void* buf, size_t len, int) {
    if (len >= 12) std::memcpy(&g_seq, static_cast<const char*>(buf) + 8, 4);
    return static_cast<ssize_t>(len);
}
ssize_t fz_recv(int, void* buf, size_t len, int) {
    if (g_reads++ > 0) {
        errno = EAGAIN;
        return -1;
    }
    std::size_t n = g_size < len ? g_size : len;
    std::memcpy(buf, g_data, n);
    if (n >= 12) std::memcpy(static_cast<char*>(buf) + 8, &g_seq, 4);
    return static_cast<ssize_t>(n);
}
int fz_close(int) { return 0; }
}  // namespace

NLINLINE_LIBMULTI(fz_)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    g_data = data + 1;
    g_size = size - 1;
    unsigned char mac[6];
    unsigned char a4[4] = {10, 0, 0, 1}, gw[4] = {10, 0, 0, 254};
    g_reads = 0;
    switch (data[0] % 6) {
    case 0: (void)fz_if_nametoindex(nullptr, "vde0"); break;
    case 1: (void)fz_linkgetaddr(nullptr, 1, mac); break;
    case 2: (void)fz_linksetupdown(nullptr, 1, 1); break;
    case 3: (void)fz_ipaddr_add(nullptr, AF_INET, a4, 24, 1); break;
    case 4: (void)fz_iproute_add(nullptr, AF_INET, nullptr, 0, gw, 1); break;
    case 5: (void)fz_linksetmtu(nullptr, 1, 1500); break;
    }
    return 0;
}
