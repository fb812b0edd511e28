// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_channel.hpp"

namespace atrium
{
    /// Routes `print`, `display` and `input` of the calling thread to `channel` for the scope's lifetime.
    /// Threads a cell starts have no scope of their own; their output follows the most recent channel.
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

    /// Called when a channel is destroyed so no thread writes to it afterwards.
    void forget_channel(output_channel& channel);
}
