// SPDX-License-Identifier: MIT
#include "kernel/connection_file.hpp"
#include "kernel/kernel_options.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>

using namespace atrium;

TEST_CASE("command-line parsing")
{
    CHECK(parse_kernel_options({"-f", "/tmp/k.json"}).connection_file == "/tmp/k.json");
    CHECK(parse_kernel_options({"--connection-file", "a.json"}).connection_file == "a.json");
    CHECK(parse_kernel_options({"--connection-file=b.json"}).connection_file == "b.json");
    CHECK(parse_kernel_options({"--help"}).show_help);
    CHECK(parse_kernel_options({"-f", "k.json", "--dask-scheduler=tcp://127.0.0.1:8786"}).dask_scheduler ==
          "tcp://127.0.0.1:8786");
    CHECK(parse_kernel_options({"-f", "k.json", "--dask-scheduler", "tcp://h:1"}).dask_scheduler == "tcp://h:1");
    CHECK_THROWS_WITH(parse_kernel_options({"-f", "k.json", "--dask-scheduler"}), Catch::Contains("needs an address"));
    CHECK_THROWS_WITH(parse_kernel_options({}), Catch::Contains("connection file is required"));
    CHECK_THROWS_WITH(parse_kernel_options({"-f"}), Catch::Contains("needs a connection file"));
    CHECK_THROWS_WITH(parse_kernel_options({"-f", "a", "--bogus"}), Catch::Contains("unknown argument '--bogus'"));
}

TEST_CASE("connection files")
{
    // A unique file per run: copies of this binary may run in parallel (ctest -j).
    char name[] = "/tmp/atrium_connection_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    std::string path = name;
    SECTION("a complete file")
    {
        std::ofstream(path) << R"({"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004,
            "hb_port": 5005, "ip": "127.0.0.1", "key": "k", "transport": "tcp", "signature_scheme": "hmac-sha256"})";
        auto config = read_connection_file(path);
        CHECK(config.m_shell_port == "5001");
        CHECK(config.m_hb_port == "5005");
        CHECK(config.m_key == "k");
    }
    SECTION("a missing port")
    {
        std::ofstream(path) << R"({"shell_port": 5001})";
        CHECK_THROWS_WITH(read_connection_file(path), Catch::Contains("'control_port'"));
    }
    SECTION("not JSON")
    {
        std::ofstream(path) << "shell_port=5001";
        CHECK_THROWS_WITH(read_connection_file(path), Catch::Contains("not a JSON object"));
    }
    std::remove(path.c_str());
    CHECK_THROWS_WITH(read_connection_file("/nonexistent/file.json"), Catch::Contains("cannot read"));
}
