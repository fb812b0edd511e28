// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace atrium
{
    /// Captures what is written to file descriptors 1 and 2 (C extensions, `os.system`, subprocesses), which
    /// Python's sys.stdout never sees, and hands it to `sink` as stdout/stderr text. The kernel's own log keeps
    /// going to the original stderr (`log_fd()`), never into a client's notebook.
    class fd_capture
    {
    public:
        using sink_fn = std::function<void(const std::string& stream, std::string text)>;

        explicit fd_capture(sink_fn sink);
        ~fd_capture();
        fd_capture(const fd_capture&) = delete;
        fd_capture& operator=(const fd_capture&) = delete;

        /// Hands over everything written so far (end of a cell: its output must precede its reply).
        void drain();
        int log_fd() const noexcept;

    private:
        struct pipe_state
        {
            const char* stream;
            int read_fd = -1;
            int original_fd = -1;
            std::string partial; ///< an incomplete UTF-8 sequence held until its remaining bytes arrive
        };

        void read_available(pipe_state& pipe);
        void run();

        sink_fn m_sink;
        pipe_state m_pipes[2];
        int m_wake[2] = {-1, -1};
        std::mutex m_mutex; ///< one reader at a time: the thread or drain()
        std::atomic<bool> m_stop{false};
        std::thread m_thread; // owned here, joined in the destructor
    };
}
