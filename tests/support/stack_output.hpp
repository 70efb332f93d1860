// stack_output.hpp - what a command run in one of our stacks prints (its
// stdout, the test's, caught in a file): for checking addresses and routes
// with busybox ip. Part of the tests' support library; needs libvdestack.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "vdestack/stack.hpp"

namespace vdetest {

inline std::string output_of(vde::Stack& stack, const std::string& command, const std::string& dir) {
    const std::string path = dir + "/out";
    std::fflush(stdout);
    const int saved = ::dup(1);
    const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(f, 1);
    ::close(f);
    stack.run(command);
    ::dup2(saved, 1);
    ::close(saved);
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace vdetest
