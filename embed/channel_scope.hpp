// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_channel.hpp"

namespace atrium
{
    /// Routes `print`, `display` and `input` of the calling thread to `channel` for the scope's lifetime.
    /// Threads a cell starts inherit its channel (threading.Thread.start is wrapped by the runtime), so
    /// their output carries that cell's parent header even while other contexts run.
    class channel_scope
    {
    public:
        explicit channel_scope(output_channel& channel);
        ~channel_scope();
        channel_scope(const channel_scope&) = delete;
        channel_scope& operator=(const channel_scope&) = delete;

    private:
        output_channel* p_previous;
    };

    /// Who runs cells on the calling thread (the resource pool enforces ownership with it): the user, and
    /// whether users have private areas (per-user binding). Set by the kernel around each cell.
    void set_thread_requester(const std::string& user, bool per_user);

    /// Writes stream text to the calling thread's channel (or the latest one), as sys.stdout does.
    void write_output(const std::string& stream, std::string_view text);
    /// Hands over what C code and subprocesses wrote to fds 1 and 2 so far, to the calling thread's channel.
    void drain_captured_output();

    /// A channel threads may adopt; `forget_channel` must be called before it is destroyed.
    void remember_channel(output_channel& channel);
    /// Called when a channel is destroyed so no thread writes to it afterwards.
    void forget_channel(output_channel& channel);
}
