// SPDX-License-Identifier: MIT
// atrium -f CONNECTION_FILE: the kernel process. atrium --host: one kernel serving many fronts (docs/host.md).
#include "kernel/connection_file.hpp"
#include "kernel/descriptor_limit.hpp"
#include "kernel/host/host.hpp"
#include "kernel/kernel_options.hpp"
#include "kernel/parent_watch.hpp"
#include "kernel/python_interpreter.hpp"
#include "kernel/zmq_server.hpp"

#include "embed/python_runtime.hpp"

#include <xeus/xkernel.hpp>
#include <zmq.hpp>

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <iostream>

int main(int argc, char* argv[])
{
    using namespace atrium;
    kernel_options options;
    try
    {
        options = parse_kernel_options(std::vector<std::string>(argv + 1, argv + argc));
    }
    catch (const usage_error& e)
    {
        std::cerr << "atrium: " << e.what() << "\n" << usage_text();
        return 2;
    }
    if (options.show_help)
    {
        std::cout << usage_text();
        return 0;
    }
    if (options.show_version)
    {
        std::cout << "atrium " ATRIUM_VERSION "\n";
        return 0;
    }

    // Stream chunks are megabyte strings that several threads allocate and free. Served by mmap (glibc's
    // default above 128 KiB), each free unmaps pages and interrupts the other cores to flush their TLBs;
    // keeping such buffers on the heap made streaming output several times faster.
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);

    if (!options.dask_scheduler.empty())
    {
        // Read by the Python runtime's compute context (and inherited by nothing else that matters).
        setenv("ATRIUM_DASK_SCHEDULER", options.dask_scheduler.c_str(), 1);
    }

    // Workers need descriptors; so that `Too many open files` cannot happen, the worker cap is what the
    // descriptor limit allows.
    const std::size_t descriptors = raise_descriptor_limit();
    const std::size_t workers_allowed =
        descriptors > descriptors_reserved ? (descriptors - descriptors_reserved) / descriptors_per_worker : 1;
    if (options.binding.mode == binding_mode::isolated && options.workers.max_workers > workers_allowed)
    {
        std::cerr << "[atrium] [session.descriptor_limit] " << descriptors << " open descriptors allow "
                  << workers_allowed << " workers, not " << options.workers.max_workers
                  << " (--max-workers): the cap is lowered to " << workers_allowed << std::endl;
        options.workers.max_workers = std::max<std::size_t>(workers_allowed, 1);
    }
    // sys.argv as ipykernel's: the program, then the kernel's own arguments (`-f CONNECTION_FILE`, ...).
    std::vector<std::string> arguments{own_directory() + "/atrium"};
    arguments.insert(arguments.end(), argv + 1, argv + argc);
    set_program_arguments(std::move(arguments));

    python_interpreter* interpreter = nullptr;
    std::unique_ptr<xeus::xkernel> kernel;
    std::unique_ptr<host> fronts;
    try
    {
        xeus::xconfiguration config =
            options.host ? host_kernel_configuration() : read_connection_file(options.connection_file);
        auto owned_interpreter = std::make_unique<python_interpreter>(options.binding, options.workers);
        interpreter = owned_interpreter.get();
        auto zmq_context = xeus::make_context<zmq::context_t>();
        zmq::context_t& sockets = zmq_context->get_wrapped_context<zmq::context_t>();
        // Binds the sockets and starts Python (on this, the main thread).
        kernel = std::make_unique<xeus::xkernel>(config, xeus::get_user_name(), std::move(zmq_context),
                                                 std::move(owned_interpreter),
                                                 options.host ? make_host_kernel_server : make_zmq_server,
                                                 xeus::make_in_memory_history_manager(), nullptr,
                                                 xeus::make_null_debugger, nl::json::object(),
                                                 nl::json::error_handler_t::replace);
        if (options.host)
            fronts = std::make_unique<host>(sockets, options.host_socket, options.host_linger_seconds, options.binding);
    }
    catch (const host_already_running& e)
    {
        std::cerr << "atrium: " << e.what() << std::endl;
        std::_Exit(3); // without Python's exit hooks: this host never served anyone
    }
    catch (const std::exception& e)
    {
        std::cerr << "atrium: cannot start: " << e.what() << std::endl;
        std::_Exit(1);
    }

    auto& server = dynamic_cast<zmq_server&>(kernel->get_server());
    interpreter->attach_server(server);
    if (fronts)
        server.add_main_service(fronts->hub());

    // A kernel ends with the client that launched it; a host outlives any one of them (it ends with no front).
    std::optional<parent_watch> orphan_guard;
    if (!options.host)
        orphan_guard.emplace();
    kernel->start(); // returns once a shutdown_request has been answered
    fronts.reset();
    interpreter->finish();
    std::fflush(nullptr);
    // Skipping Py_Finalize on purpose: it joins every non-daemon thread a cell left running, which could
    // keep a kernel that was asked to shut down alive forever.
    std::_Exit(0);
}
