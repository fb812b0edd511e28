// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace atrium
{
    /// The input() prompt a context waits on, and how well a client's input_reply fits it.
    struct pending_prompt
    {
        std::string id;      ///< msg_id of the input_request sent; empty when nothing waits
        std::string session; ///< the client session that was asked

        /// 2: the reply names the prompt as its parent; 1: it has no parent (jupyter_client sends replies
        /// without one) and comes from the session that was asked; 0: it is not for this prompt.
        int match(const std::string& parent_msg_id, const std::string& reply_session) const
        {
            if (id.empty())
                return 0;
            if (parent_msg_id == id)
                return 2;
            return parent_msg_id.empty() && reply_session == session ? 1 : 0;
        }

        void clear()
        {
            id.clear();
        }
    };
}
