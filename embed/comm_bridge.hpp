// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// The kernel's comm machinery as Python code sees it (implemented in kernel/ on xeus's comm manager).
    /// It registers comms so the client's messages reach them; the messages a cell sends go out through that
    /// cell's own output channel (its request's parent header, after its earlier prints).
    class comm_bridge
    {
    public:
        virtual ~comm_bridge() = default;
        virtual void open(const std::string& comm_id, const std::string& target_name) = 0;
        /// Throws `[comm.unknown]` for a comm that is not open.
        virtual void check_open(const std::string& comm_id) = 0;
        virtual void close(const std::string& comm_id) = 0;
        virtual void register_target(const std::string& target_name) = 0;
        /// For comm messages sent outside any cell (a handler run for a client's comm_msg).
        virtual void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata) = 0;
    };

    void set_comm_bridge(comm_bridge* bridge);

    /// Hand a client's comm traffic to Python (`msg` is the message as a dict). Take the GIL themselves.
    void deliver_comm_open(const std::string& target_name, const std::string& comm_id, const nlohmann::json& msg);
    void deliver_comm_msg(const std::string& comm_id, const nlohmann::json& msg);
    void deliver_comm_close(const std::string& comm_id, const nlohmann::json& msg);
}
