// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace atrium
{
    /// Which isolated context owns each comm and comm target, so the client's comm messages reach the worker
    /// whose cell created the comm (or registered the target). Any thread.
    class remote_comms
    {
    public:
        void target_registered(const std::string& target_name, const std::string& owner);
        void opened(const std::string& comm_id, const std::string& target_name, const std::string& owner);
        void closed(const std::string& comm_id);
        /// A context's worker is gone: its comms and targets with it.
        void forget_owner(const std::string& owner);

        std::optional<std::string> owner_of_comm(const std::string& comm_id) const;
        std::optional<std::string> owner_of_target(const std::string& target_name) const;
        /// comm_info_reply's `comms`: open comms (of `target_name` when not empty) whose owner `visible` accepts.
        nlohmann::json comm_info(const std::string& target_name,
                                 const std::function<bool(const std::string& owner)>& visible) const;

    private:
        struct comm_entry
        {
            std::string target_name;
            std::string owner;
        };

        mutable std::mutex m_mutex;
        std::map<std::string, std::string> m_targets; ///< target name -> owner key
        std::map<std::string, comm_entry> m_comms;
    };
}
