// SPDX-License-Identifier: MIT
#include "session/worker/worker_process.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

using namespace atrium;

namespace
{
    /// A stand-in worker: a shell script that reads the key from stdin and does what the test needs.
    std::string script(const std::string& body)
    {
        char path[] = "/tmp/atrium-worker-test-XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
        chmod(path, 0700);
        return path;
    }

    int exit_status_of(int code)
    {
        return code << 8;
    }
}

TEST_CASE("exit descriptions")
{
    CHECK(describe_exit_status(exit_status_of(3)) == "exited with code 3");
    CHECK(describe_exit_status(SIGSEGV) == "killed by SIGSEGV (Segmentation fault)");
    CHECK(describe_exit_status(SIGKILL).rfind("killed by SIGKILL", 0) == 0);
}

TEST_CASE("worker processes")
{
    SECTION("a worker that is gone before it reads its key is reported by how it ended")
    {
        // A program that cannot start exits at once; whether the key's write comes before or after that, the
        // error names the exit status, never the "Broken pipe" of writing to a process that is gone.
        worker_launch launch{"/nonexistent/atrium-worker", "tcp://127.0.0.1:1", "k", 2, {}, "ipc://@none", "w1"};
        for (int attempt = 0; attempt < 100; ++attempt)
        {
            try
            {
                worker_process process(launch);
                for (int i = 0; i < 200 && !process.reap_if_ended(); ++i)
                    usleep(1000);
                REQUIRE(process.ending());
                CHECK(*process.ending() == "exited with code 127");
            }
            catch (const std::runtime_error& error)
            {
                CHECK_THAT(error.what(), Catch::StartsWith("[worker.spawn]") && Catch::Contains("exited with code 127"));
            }
        }
    }
    SECTION("the key arrives on stdin, the process is reaped with its exit status")
    {
        std::string out = "/tmp/atrium-worker-key-" + std::to_string(getpid());
        std::string path = script("read key; echo \"$key\" > " + out + "; exit 4");
        worker_launch launch{path, "tcp://127.0.0.1:1", "secret-key", 2, {}, "ipc://@none", "w1"};
        {
            worker_process process(launch);
            CHECK(process.pid() > 0);
            for (int i = 0; i < 200 && !process.reap_if_ended(); ++i)
                usleep(10000);
            REQUIRE(process.ending());
            CHECK(*process.ending() == "exited with code 4");
            CHECK(process.resident_bytes() == 0);
            CHECK_FALSE(process.signal(SIGINT)); // reaped: never signals a recycled pid
        }
        std::string key;
        std::getline(std::ifstream(out), key);
        CHECK(key == "secret-key");
        unlink(out.c_str());
        unlink(path.c_str());
    }
    SECTION("limits are applied before the worker runs")
    {
        std::string out = "/tmp/atrium-worker-limits-" + std::to_string(getpid());
        // Reads its key first, as a worker does: a process that ends before the key is written is a failed
        // spawn (the previous test), which a loaded machine would otherwise make of this one.
        std::string path = script("read key; ulimit -v > " + out + "; ulimit -t >> " + out);
        worker_launch launch{path, "tcp://127.0.0.1:1", "k", 2, {256ULL << 20, 7}, "ipc://@none", "w1"};
        {
            worker_process process(launch);
            process.kill_and_reap(); // may or may not have finished: waits either way
        }
        {
            worker_process process(launch);
            for (int i = 0; i < 200 && !process.reap_if_ended(); ++i)
                usleep(10000);
        }
        std::ifstream limits(out);
        std::string memory_kib, cpu;
        limits >> memory_kib >> cpu;
        CHECK(memory_kib == std::to_string(256 * 1024));
        CHECK(cpu == "7");
        unlink(out.c_str());
        unlink(path.c_str());
    }
    SECTION("an output ring arrives as fd 4, announced, and nothing else of the kernel's comes along")
    {
        std::string out = "/tmp/atrium-worker-fds-" + std::to_string(getpid());
        std::string path = script("read key; ls /proc/$$/fd > " + out + "; echo \"$@\" >> " + out);
        // An inheritable descriptor at fd 3 in the kernel (a user's os.dup2 can make one) must not reach it.
        int saved = fcntl(3, F_DUPFD_CLOEXEC, 10);
        int stray = open("/dev/null", O_RDONLY);
        REQUIRE(stray >= 0);
        REQUIRE(dup2(stray, 3) == 3);
        int ring = memfd_create("test-ring", MFD_CLOEXEC);
        REQUIRE(ring >= 0);
        worker_launch launch{path, "tcp://127.0.0.1:1", "k", 2, {}, "ipc://@none", "w1"};
        launch.ring_fd = ring;
        {
            worker_process process(launch);
            for (int i = 0; i < 200 && !process.reap_if_ended(); ++i)
                usleep(10000);
        }
        close(ring);
        close(stray);
        if (saved >= 0)
            dup2(saved, 3), close(saved);
        else
            close(3);
        std::ifstream listing(out);
        std::vector<std::string> lines;
        for (std::string line; std::getline(listing, line);)
            lines.push_back(line);
        REQUIRE(lines.size() >= 2);
        const std::string last_line = lines.back(); // the arguments; the lines before: the shell's descriptors
        lines.pop_back();
        std::set<std::string> fds;
        for (const auto& line : lines)
        {
            std::istringstream words(line);
            for (std::string word; words >> word;)
                fds.insert(word);
        }
        CHECK(fds.count("4"));
        CHECK_FALSE(fds.count("3"));
        CHECK_THAT(last_line, Catch::EndsWith("--ring-fd 4"));
        unlink(out.c_str());
        unlink(path.c_str());

        launch.arguments = {"--other"};
        CHECK_THROWS_WITH(worker_process(launch), Catch::Contains("only for a worker's own arguments"));
    }
    SECTION("destroying a running worker kills and reaps it")
    {
        std::string path = script("read key; sleep 60");
        pid_t pid;
        {
            worker_process process({path, "e", "k", 2, {}, "c", "w1"});
            pid = process.pid();
            CHECK(process.resident_bytes() > 0);
        }
        CHECK(waitpid(pid, nullptr, WNOHANG) == -1); // already reaped: not our child any more
        CHECK(kill(pid, 0) == -1);
        unlink(path.c_str());
    }
}
