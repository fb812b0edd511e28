// SPDX-License-Identifier: MIT
#include "common/template_channel.hpp"
#include "session/worker/worker_template.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

namespace
{
    // A stand-in template (Python, as the real one is): says ready, forks one child with CLONE_PARENT as the real
    // template does, and dies before its "forked" reply (as an OOM kill between clone and reply would). The child
    // says its pid where the kernel asks (the request's third fd), writes it into the file named as the "preload",
    // and stays: a stray that would connect with the key it was handed.
    const char* const dies_after_clone = R"(#!/usr/bin/python3
import ctypes, os, platform, socket, sys, time
pid_file = sys.argv[sys.argv.index("--preload") + 1]
control = socket.socket(fileno=3)
control.send(b"ready")
message, fds, flags, address = socket.recv_fds(control, 4096, 8)
libc = ctypes.CDLL(None, use_errno=True)
number = {"x86_64": 56, "aarch64": 220}[platform.machine()]
zero = ctypes.c_long(0)
child = libc.syscall(ctypes.c_long(number), ctypes.c_long(0x8000 | 17), zero, zero, zero, zero)
if child == 0:
    if len(fds) > 2:
        socket.socket(fileno=fds[2]).send(os.getpid().to_bytes(4, sys.byteorder))
    with open(pid_file + ".part", "w") as out:
        out.write(str(os.getpid()))
    os.rename(pid_file + ".part", pid_file)
    while True:
        time.sleep(1)
while not os.path.exists(pid_file):
    time.sleep(0.01)
os._exit(9)
)";
}

TEST_CASE("a worker the template forked but the kernel never adopted is killed and reaped")
{
    char path[] = "/tmp/atrium-template-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    std::ofstream(path) << dies_after_clone;
    chmod(path, 0700);
    const std::string pid_file = std::string(path) + ".pid";
    worker_template stand_in(path, pid_file, false, 2, std::chrono::milliseconds(10000));
    worker_launch launch;
    launch.endpoint = "ipc://@atrium-template-test";
    launch.cells_endpoint = "ipc://@atrium-template-test-cells";
    launch.lane_id = "w1";
    launch.key = "k";
    CHECK_THROWS_WITH(stand_in.fork_worker(launch), Catch::StartsWith("[worker.template]"));
    pid_t stray = 0;
    std::ifstream(pid_file) >> stray;
    REQUIRE(stray > 0);
    // Still our child (alive or a zombie) would mean a stray holding the key, or a zombie nobody reaps.
    siginfo_t state{};
    const bool left = waitid(P_PID, static_cast<id_t>(stray), &state, WEXITED | WNOHANG | WNOWAIT) == 0;
    CHECK_FALSE(left);
    if (left)
    {
        kill(stray, SIGKILL);
        waitpid(stray, nullptr, 0);
    }
    unlink(pid_file.c_str());
    unlink(path);
}
