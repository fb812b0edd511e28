// SPDX-License-Identifier: MIT
#include "common/template_channel.hpp"
#include "session/worker/worker_template.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using namespace atrium;

TEST_CASE("template requests")
{
    template_request request{"ipc://@a-1", "ipc://@a-cells", "w7", 1ULL << 30, 12};
    auto decoded = template_request::decode(request.encode());
    REQUIRE(decoded);
    CHECK(decoded->endpoint == "ipc://@a-1");
    CHECK(decoded->cells_endpoint == "ipc://@a-cells");
    CHECK(decoded->lane_id == "w7");
    CHECK(decoded->memory_bytes == 1ULL << 30);
    CHECK(decoded->cpu_seconds == 12);
    CHECK_FALSE(template_request::decode("ready"));
    CHECK_FALSE(template_request::decode("fork\na\nb\nw1\nlots\n0\n"));
    CHECK_FALSE(template_request::decode("fork\n\nb\nw1\n0\n0\n"));
}

TEST_CASE("template channel datagrams carry fds")
{
    int ends[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) == 0);
    int pipe_ends[2];
    REQUIRE(pipe2(pipe_ends, O_CLOEXEC) == 0);
    REQUIRE(write(pipe_ends[1], "key\n", 4) == 4);
    close(pipe_ends[1]);
    REQUIRE(send_datagram(ends[0], "hello", {pipe_ends[0]}));
    close(pipe_ends[0]);
    std::vector<int> fds;
    auto text = receive_datagram(ends[1], &fds);
    REQUIRE(text);
    CHECK(*text == "hello");
    REQUIRE(fds.size() == 1);
    char buffer[8] = {};
    CHECK(read(fds[0], buffer, sizeof buffer) == 4);
    CHECK(std::string(buffer) == "key\n");
    close(fds[0]);
    close(ends[0]);
    CHECK_FALSE(receive_datagram(ends[1], &fds)); // the other end closed: end of stream
    close(ends[1]);
}

TEST_CASE("a template that cannot start is reported with how it ended")
{
    char path[] = "/tmp/atrium-template-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    // Reads its (empty) key line first, as a template does: ending before the kernel wrote it is a failed spawn
    // instead (seen once under a loaded full suite).
    std::ofstream(path) << "#!/bin/sh\nread key\nexit 3\n";
    chmod(path, 0700);
    CHECK_THROWS_WITH(worker_template(path, "numpy", false, 2, std::chrono::milliseconds(10000)),
                      Catch::StartsWith("[worker.template]") && Catch::Contains("exited with code 3"));
    unlink(path);
}
