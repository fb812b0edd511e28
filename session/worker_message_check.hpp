// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// What the kernel may believe of a message an isolated worker sent. The signature proves only which worker
    /// sent it, not that it is well-formed: cells run arbitrary code in the worker, so a worker is as trusted as
    /// its note's user, and its messages must never crash or hang the kernel (and with it every other note).
    /// Each check names the first field that is missing or of the wrong type ("" when the message is fine), so
    /// that nothing after it can throw on a field read.
    namespace worker_message_check
    {
        /// A message on the worker's own channel (the relay's): publish, input_request, reply (of a quick
        /// request), comm_*, call, pong... Types the kernel does not use pass (they are ignored).
        std::string problem(const nlohmann::json& header);
        /// A cell's reply on the cells channel: `id`, `content` (an object with a string `status`), `after`,
        /// `paused`.
        std::string reply_problem(const nlohmann::json& header);
    }
}
