// SPDX-License-Identifier: MIT
#include "session/remote_comms.hpp"

namespace atrium
{
    void remote_comms::target_registered(const std::string& target_name, const std::string& owner)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_targets[target_name] = owner;
    }

    void remote_comms::opened(const std::string& comm_id, const std::string& target_name, const std::string& owner)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_comms[comm_id] = {target_name, owner};
    }

    void remote_comms::closed(const std::string& comm_id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_comms.erase(comm_id);
    }

    void remote_comms::forget_owner(const std::string& owner)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto it = m_comms.begin(); it != m_comms.end();)
            it = it->second.owner == owner ? m_comms.erase(it) : std::next(it);
        for (auto it = m_targets.begin(); it != m_targets.end();)
            it = it->second == owner ? m_targets.erase(it) : std::next(it);
    }

    std::optional<std::string> remote_comms::owner_of_comm(const std::string& comm_id) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_comms.find(comm_id);
        if (it == m_comms.end())
            return std::nullopt;
        return it->second.owner;
    }

    std::optional<std::string> remote_comms::owner_of_target(const std::string& target_name) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_targets.find(target_name);
        if (it == m_targets.end())
            return std::nullopt;
        return it->second;
    }

    nlohmann::json remote_comms::comm_info(const std::string& target_name,
                                           const std::function<bool(const std::string& owner)>& visible) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        nlohmann::json comms = nlohmann::json::object();
        for (const auto& [id, entry] : m_comms)
        {
            if ((target_name.empty() || entry.target_name == target_name) && visible(entry.owner))
                comms[id] = {{"target_name", entry.target_name}};
        }
        return comms;
    }
}
