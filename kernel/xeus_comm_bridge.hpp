// SPDX-License-Identifier: MIT
#pragma once

#include "embed/comm_bridge.hpp"

#include <xeus/xcomm.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>

namespace atrium
{
    /// Python's comms on xeus's comm manager: owns every live xcomm and forwards client traffic to Python.
    class xeus_comm_bridge final : public comm_bridge
    {
    public:
        explicit xeus_comm_bridge(xeus::xcomm_manager& manager);

        void open(const std::string& comm_id, const std::string& target_name, nl::json data,
                  nl::json metadata) override;
        void send(const std::string& comm_id, nl::json data, nl::json metadata) override;
        void close(const std::string& comm_id, nl::json data, nl::json metadata) override;
        void register_target(const std::string& target_name) override;

    private:
        xeus::xcomm& adopt(xeus::xcomm comm);
        xeus::xcomm& find(const std::string& comm_id);
        void collect_closed();

        xeus::xcomm_manager& m_manager;
        std::map<std::string, std::unique_ptr<xeus::xcomm>> m_comms;
        /// Closed by the client: destroyed later, never inside the xcomm's own close handler.
        std::set<std::string> m_closed;
    };
}
