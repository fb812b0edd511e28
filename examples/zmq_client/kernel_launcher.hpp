// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <string>

namespace atrium_client
{
    /// A kernel this client started from a kernelspec: a connection file of its own (free loopback ports, a
    /// random key) and the kernel process. The destructor removes the file and kills a kernel still running.
    class kernel_launcher
    {
    public:
        /// `kernel_json` is a kernelspec's kernel.json: its `argv` (with `{connection_file}`) and `env`.
        /// Throws std::runtime_error naming what is wrong (`[client.bad_kernelspec]`, `[client.spawn]`).
        explicit kernel_launcher(const std::string& kernel_json);
        ~kernel_launcher();
        kernel_launcher(const kernel_launcher&) = delete;
        kernel_launcher& operator=(const kernel_launcher&) = delete;

        const std::string& connection_file() const noexcept { return m_connection_file; }
        /// Waits up to `seconds` for the kernel to end (after a shutdown_request); true when it has.
        bool wait_for_exit(double seconds);

    private:
        std::string m_directory;
        std::string m_connection_file;
        pid_t m_pid = 0;
    };
}
