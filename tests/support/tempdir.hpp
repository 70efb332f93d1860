// tempdir.hpp - TempDir: a fresh directory under /tmp, removed with all it
// holds when the object goes. Part of the tests' support library.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace vdetest {

struct TempDir {
    std::string path;
    // /tmp/vdestack-<what>-XXXXXX
    explicit TempDir(const std::string& what = "test") {
        std::string tmpl = "/tmp/vdestack-" + what + "-XXXXXX";
        const char* p = ::mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path = p != nullptr ? p : "/tmp";
    }
    ~TempDir() {
        std::error_code ec;
        if (path != "/tmp") std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace vdetest
