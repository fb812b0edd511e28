// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace atrium
{
    /// The embedded CPython interpreter: one per process, started on the main thread.
    ///
    /// It runs cells with the packages of the environment whose `python` executable it is given, as that
    /// environment's own interpreter would (sys.prefix, sys.executable, site-packages).
    class python_runtime
    {
    public:
        /// Without `capture`, fds 1 and 2 stay as they are until capture_output() (a worker template captures
        /// nothing: its capture thread would not survive a fork, and its pipes would be shared with its children).
        explicit python_runtime(const std::string& python_executable, bool capture = true);
        ~python_runtime();
        python_runtime(const python_runtime&) = delete;
        python_runtime& operator=(const python_runtime&) = delete;

        /// kernel_info's language_info, read from the running interpreter.
        const nlohmann::json& language_info() const;
        const std::string& banner() const;

        /// From here on what is written to fds 1 and 2 goes to the current cell's output (done by the constructor
        /// unless it was told not to); std::cerr keeps the original stderr.
        void capture_output();

        /// After configuration the main thread gives the GIL away; each request takes it back.
        void release_gil();
        /// Runs atexit handlers and flushes Python-side state before the process exits.
        void run_exit_hooks();

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };

    /// Runs `work` holding the GIL (taken if this thread does not hold it). What Python code and this thread both
    /// touch, such as xeus's comm registry, is then never touched by two threads at once.
    void with_gil(const std::function<void()>& work);
    /// What cells see as `sys.argv` (ipykernel gives its launcher's command line: `[launcher, "-f", FILE]`).
    /// Call before the runtime starts; without it `sys.argv` is `[""]`.
    void set_program_arguments(std::vector<std::string> arguments);

    /// One line on the compute context's state for %contexts (takes the GIL; starts nothing).
    std::string describe_compute();

    /// The directory of the running executable (programs installed beside it are found there).
    std::string own_directory();

    /// Where the process's own log goes (the original stderr, since fds 1 and 2 carry cells' output).
    int log_fd();

    /// The environment to run cells in: $ATRIUM_PYTHON, else a `python3` beside the kernel binary
    /// (the kernel installed into a virtual environment), else the interpreter Atrium was built against.
    std::string default_python_executable();
}
