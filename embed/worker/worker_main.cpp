// SPDX-License-Identifier: MIT
// atrium-worker: one isolated note's (or user's) Python, started and owned by the kernel. Not for users to run.
#include "embed/kernel_services.hpp"
#include "embed/python_runtime.hpp"
#include "embed/worker/worker_heap.hpp"
#include "embed/worker/worker_link.hpp"
#include "embed/worker/worker_service.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <iostream>

namespace
{
    struct worker_arguments
    {
        std::string endpoint;
        atrium::cell_lane_address lane;
        pid_t kernel_pid = 0;
    };

    bool parse(int argc, char* argv[], worker_arguments& out)
    {
        for (int i = 1; i + 1 < argc; i += 2)
        {
            std::string flag = argv[i];
            if (flag == "--connect")
                out.endpoint = argv[i + 1];
            else if (flag == "--cells")
                out.lane.endpoint = argv[i + 1];
            else if (flag == "--lane")
                out.lane.id = argv[i + 1];
            else if (flag == "--kernel-pid")
                out.kernel_pid = static_cast<pid_t>(std::atoi(argv[i + 1]));
            else
                return false;
        }
        return !out.endpoint.empty() && !out.lane.endpoint.empty() && !out.lane.id.empty() && out.kernel_pid > 0 &&
               argc % 2 == 1;
    }

    /// The kernel writes the channel key into our stdin; afterwards stdin is /dev/null (cells read input()
    /// through the client, never from the terminal).
    std::string read_key()
    {
        std::string key;
        std::getline(std::cin, key);
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd >= 0)
        {
            dup2(null_fd, 0);
            close(null_fd);
        }
        return key;
    }
}

int main(int argc, char* argv[])
{
    using namespace atrium;
    tune_worker_heap();
    worker_arguments arguments;
    if (!parse(argc, argv, arguments))
    {
        std::cerr << "atrium-worker: started by the Atrium kernel, not by hand "
                     "(usage: atrium-worker --connect ENDPOINT --cells ENDPOINT --lane ID --kernel-pid PID, key on "
                     "stdin)\n";
        return 2;
    }
    // Other processes of the same OS user may not read this worker's memory (/proc/PID/mem), attach a debugger
    // or get a core dump: in per-user modes one worker holds one user's variables. (Root still can.)
    prctl(PR_SET_DUMPABLE, 0);
    std::string key = read_key();
    if (key.empty())
    {
        std::cerr << "atrium-worker: [worker.no_key] no channel key on stdin\n";
        return 2;
    }
    try
    {
        // Never destroyed: the link thread uses it to the end, and zmq_ctx_term would wait for that thread's socket
        // (the worker ends by _exit, or by returning below after a failed start).
        zmq::context_t& context = *new zmq::context_t(1);
        worker_link link(context, arguments.endpoint, key, arguments.kernel_pid);
        set_kernel_caller(
            [&link](const std::string& op, const nlohmann::json& args, std::string blob)
            {
                worker_message answer = link.call(op, args, std::move(blob));
                return std::make_pair(std::move(answer.header["result"]), std::move(answer.blob));
            });
        // A worker's cells see the kernel program's name (the worker's own flags mean nothing to them).
        set_program_arguments({own_directory() + "/atrium"});
        python_runtime runtime(default_python_executable());
        worker_service service(context, link, key, arguments.lane); // says hello: the kernel may hand it a note now
        runtime.release_gil();
        service.run();
    }
    catch (const std::exception& e)
    {
        std::cerr << "atrium-worker: cannot start: " << e.what() << std::endl;
        return 1;
    }
}
