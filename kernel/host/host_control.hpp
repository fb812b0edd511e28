// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace atrium
{
    class front_hub;

    /// Another host already answers on the control socket.
    struct host_already_running : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    /// The host's control socket (docs/host.md): a unix stream socket of mode 0600 that only the host's own uid
    /// may use, one JSON request per line, each answered by the hub. Its thread also ends the host after
    /// `linger_seconds` without a front (negative: never).
    class host_control
    {
    public:
        /// Listens on `path`, replacing a stale socket file; throws host_already_running when a host answers
        /// there, std::runtime_error when the socket cannot be made.
        host_control(std::string path, front_hub& hub, int linger_seconds);
        /// Stops serving and removes the socket file.
        ~host_control();
        host_control(const host_control&) = delete;
        host_control& operator=(const host_control&) = delete;

        /// One request line's answer (also for tests): bad JSON and lines of the wrong shape get `[host.bad_request]`.
        static nlohmann::json answer(front_hub& hub, const std::string& line);

    private:
        void serve();

        std::string m_path;
        front_hub& m_hub;
        int m_linger_seconds;
        int m_listener = -1;
        ino_t m_inode = 0; ///< of the socket file this host made (removed at exit only if still that one)
        int m_stop = -1; ///< eventfd: the destructor wakes the thread
        std::thread m_thread;
    };
}
