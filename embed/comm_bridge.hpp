// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// The kernel's comm machinery as Python code sees it (implemented in kernel/ on xeus's comm manager).
    class comm_bridge
    {
    public:
        virtual ~comm_bridge() = default;
        virtual void open(const std::string& comm_id, const std::string& target_name, nlohmann::json data,
                          nlohmann::json metadata) = 0;
        virtual void send(const std::string& comm_id, nlohmann::json data, nlohmann::json metadata) = 0;
        virtual void close(const std::string& comm_id, nlohmann::json data, nlohmann::json metadata) = 0;
        virtual void register_target(const std::string& target_name) = 0;
    };

    void set_comm_bridge(comm_bridge* bridge);

    /// Hand a client's comm traffic to Python (`msg` is the message as a dict). Take the GIL themselves.
    void deliver_comm_open(const std::string& target_name, const std::string& comm_id, const nlohmann::json& msg);
    void deliver_comm_msg(const std::string& comm_id, const nlohmann::json& msg);
    void deliver_comm_close(const std::string& comm_id, const nlohmann::json& msg);
}
