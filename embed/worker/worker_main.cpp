// SPDX-License-Identifier: MIT
// atrium-worker: one isolated note's (or user's) Python, started and owned by the kernel. Not for users to run.
// With --template it is the kernel's worker template instead: Python started and ATRIUM_PRELOAD's modules
// imported once, then forked into workers that share those pages copy-on-write (embed/worker/worker_template).
#include "common/template_channel.hpp"
#include "embed/kernel_services.hpp"
#include "embed/python_runtime.hpp"
#include "embed/worker/worker_heap.hpp"
#include "embed/worker/worker_link.hpp"
#include "embed/worker/worker_service.hpp"
#include "embed/worker/worker_template.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace
{
    /// The template's end of its control channel, placed there by the kernel (session/worker/worker_template).
    constexpr int template_control_fd = 3;

    struct worker_arguments
    {
        std::string endpoint;
        atrium::cell_lane_address lane;
        pid_t kernel_pid = 0;
        bool template_mode = false;
        std::vector<std::string> preload;
        bool skip_missing = false; ///< --preload-if-installed: the default list, not the user's
        int ring_fd = -1;          ///< --ring-fd: the output ring the kernel handed over
    };

    std::vector<std::string> split_modules(const std::string& text)
    {
        std::vector<std::string> names;
        std::istringstream in(text);
        std::string name;
        while (std::getline(in, name, ','))
        {
            name.erase(0, name.find_first_not_of(" \t"));
            name.erase(name.find_last_not_of(" \t") + 1);
            if (!name.empty())
                names.push_back(name);
        }
        return names;
    }

    bool parse(int argc, char* argv[], worker_arguments& out)
    {
        int i = 1;
        if (argc > 1 && std::string(argv[1]) == "--template")
        {
            out.template_mode = true;
            i = 2;
        }
        if ((argc - i) % 2 != 0)
            return false;
        for (; i + 1 < argc; i += 2)
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
            else if (flag == "--ring-fd" && !out.template_mode)
                out.ring_fd = std::atoi(argv[i + 1]);
            else if ((flag == "--preload" || flag == "--preload-if-installed") && out.template_mode)
            {
                out.preload = split_modules(argv[i + 1]);
                out.skip_missing = flag == "--preload-if-installed";
            }
            else
                return false;
        }
        if (out.template_mode)
            return out.kernel_pid > 0 && out.endpoint.empty();
        return !out.endpoint.empty() && !out.lane.endpoint.empty() && !out.lane.id.empty() && out.kernel_pid > 0;
    }

    /// The kernel writes the channel key into our stdin (a spawned worker's, or the pipe a forked one was handed);
    /// afterwards stdin is /dev/null (cells read input() through the client, never from the terminal). Read with
    /// read(2), not std::cin: a forked worker must not find the template's stdio buffer state.
    std::string read_key()
    {
        std::string key;
        char c;
        while (key.size() < 4096)
        {
            ssize_t n = read(0, &c, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || c == '\n')
                break;
            key.push_back(c);
        }
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd >= 0)
        {
            dup2(null_fd, 0);
            close(null_fd);
        }
        return key;
    }

    /// Serves one note until the kernel says stop or goes away. The runtime may already be running (a worker
    /// forked from the template) or is started here.
    int serve(const worker_arguments& arguments, std::unique_ptr<atrium::python_runtime> runtime)
    {
        using namespace atrium;
        std::string key = read_key();
        if (key.empty())
        {
            std::cerr << "atrium-worker: [worker.no_key] no channel key on stdin\n";
            return 2;
        }
        try
        {
            // The link's (the cells channel is a plain socket). Never destroyed: the link thread uses it to the end,
            // and zmq_ctx_term would wait for that thread's socket (the worker ends by _exit, or by returning below
            // after a failed start).
            zmq::context_t& context = *new zmq::context_t(1);
            worker_link link(context, arguments.endpoint, key, arguments.kernel_pid, arguments.ring_fd);
            set_kernel_caller(
                [&link](const std::string& op, const nlohmann::json& args, std::string blob)
                {
                    worker_message answer = link.call(op, args, std::move(blob));
                    return std::make_pair(std::move(answer.header["result"]), std::move(answer.blob));
                });
            if (runtime)
                runtime->capture_output();
            else
                runtime = std::make_unique<python_runtime>(default_python_executable());
            worker_service service(link, key, arguments.lane); // says hello: the kernel may hand it a note
            runtime->release_gil();
            service.run();
        }
        catch (const std::exception& e)
        {
            std::cerr << "atrium-worker: cannot start: " << e.what() << std::endl;
            return 1;
        }
    }

    /// Starts Python without output capture, sets the thread limits the template needs for itself, and serves as
    /// the template; returns in each forked child, which then serves its note.
    int serve_as_template(worker_arguments arguments)
    {
        using namespace atrium;
        std::vector<std::string> unset_in_children;
        for (const auto& name : template_thread_variables())
        {
            if (!std::getenv(name.c_str()))
            {
                setenv(name.c_str(), "1", 1);
                unset_in_children.push_back(name);
            }
        }
        // The runtime installs a worker's by-value pool when it sees a kernel caller; each forked worker sets its own.
        set_kernel_caller(
            [](const std::string&, const nlohmann::json&, std::string) -> std::pair<nlohmann::json, std::string>
            { throw std::runtime_error("[worker.template] the template has no kernel channel"); });
        std::unique_ptr<python_runtime> runtime;
        try
        {
            runtime = std::make_unique<python_runtime>(default_python_executable(), false);
        }
        catch (const std::exception& e)
        {
            std::string why = std::string("[worker.preload] Python did not start: ") + e.what();
            std::cerr << "atrium-worker (template): " << why << std::endl;
            send_datagram(template_control_fd, "failed " + why);
            return 1;
        }
        forked_worker child =
            atrium::serve_as_template(template_control_fd, arguments.kernel_pid, arguments.preload,
                                                            arguments.skip_missing, unset_in_children);
        arguments.endpoint = child.endpoint;
        arguments.lane = {child.cells_endpoint, child.lane_id};
        arguments.ring_fd = child.ring_fd;
        return serve(arguments, std::move(runtime));
    }
}

int main(int argc, char* argv[])
{
    atrium::tune_worker_heap(); // before the template forks: its workers inherit it
    worker_arguments arguments;
    if (!parse(argc, argv, arguments))
    {
        std::cerr << "atrium-worker: started by the Atrium kernel, not by hand "
                     "(usage: atrium-worker --connect ENDPOINT --cells ENDPOINT --lane ID --kernel-pid PID "
                     "[--ring-fd FD], key on stdin; or atrium-worker --template --kernel-pid PID "
                     "[--preload[-if-installed] MODULES], channel on fd 3)\n";
        return 2;
    }
    // Other processes of the same OS user may not read this worker's memory (/proc/PID/mem), attach a debugger
    // or get a core dump: in per-user modes one worker holds one user's variables. (Root still can.) Forked
    // workers inherit this from the template.
    prctl(PR_SET_DUMPABLE, 0);
    // A worker's cells see the kernel program's name (the worker's own flags mean nothing to them).
    atrium::set_program_arguments({atrium::own_directory() + "/atrium"});
    if (arguments.template_mode)
    {
        read_key(); // the template gets no key: the line the kernel wrote is empty
        prctl(PR_SET_NAME, "atrium-template"); // its workers share its command line; ps and tests tell them apart
        return serve_as_template(std::move(arguments));
    }
    return serve(arguments, nullptr);
}
