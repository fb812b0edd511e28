// SPDX-License-Identifier: MIT
#pragma once

#include <zmq.hpp>

#include <cerrno>

namespace atrium
{
    /// Runs a ZeroMQ call again when a signal interrupted it (EINTR): on a thread that receives SIGINT, any
    /// send, receive or poll may be cut short by an interrupt meant for a cell.
    template <class F>
    auto retry_on_eintr(F&& f) -> decltype(f())
    {
        while (true)
        {
            try
            {
                return f();
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() != EINTR)
                    throw;
            }
        }
    }
}
