// SPDX-License-Identifier: MIT
#pragma once

#include "embed/comm_bridge.hpp"

#include <xeus/xcomm.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <string>

namespace atrium
{
    /// Python's comms on xeus's comm manager: xeus routes the client's comm messages to the xcomm objects
    /// owned here, which forward them to Python. Nothing is published through xcomm, whose publisher would
    /// tag messages with whatever request xeus's core saw last.
    class xeus_comm_bridge final : public comm_bridge
    {
    public:
        using publisher = std::function<void(const std::string& msg_type, nl::json content, nl::json metadata)>;

        /// Who owns comms, and who may use them: a comm or target belongs to the context whose cell created
        /// it; in per-user modes a client message from another user's context is refused.
        struct access_policy
        {
            std::function<std::string()> current_owner; ///< key of the context running on this thread
            std::function<bool(const xeus::xmessage& request, const std::string& owner)> may_use;
        };

        xeus_comm_bridge(xeus::xcomm_manager& manager, publisher publish, access_policy access);

        void open(const std::string& comm_id, const std::string& target_name) override;
        void check_open(const std::string& comm_id) override;
        void close(const std::string& comm_id) override;
        void register_target(const std::string& target_name) override;
        void publish(const std::string& msg_type, nl::json content, nl::json metadata) override;
        /// Whether a cell registered (or opened a comm of) this target. Any thread.
        bool has_target(const std::string& target_name) const;

        /// comm_info_reply's `comms`: open comms (of `target_name` unless empty) whose owner `visible` accepts.
        /// Hold the GIL, as every other use of the bridge does.
        nl::json comm_info(const std::string& target_name, const std::function<bool(const std::string& owner)>& visible) const;

    private:
        struct owned_comm
        {
            std::unique_ptr<xeus::xcomm> comm;
            std::string owner;
            std::string target_name;
        };

        xeus::xcomm& adopt(xeus::xcomm comm, const std::string& owner, const std::string& target_name);
        bool allowed(const xeus::xmessage& request, const std::string& owner, const char* what) const;
        xeus::xcomm& find(const std::string& comm_id);
        void collect_closed();

        xeus::xcomm_manager& m_manager;
        publisher m_publish;
        access_policy m_access;
        /// xeus's `target(name)` creates an unusable empty target for an unknown name instead of failing,
        /// so the bridge remembers which targets exist.
        std::map<std::string, std::string> m_targets; ///< target name -> owning context key
        std::map<std::string, owned_comm> m_comms;
        mutable std::mutex m_targets_mutex; ///< cells register targets while the main thread routes comm_open

        /// Closed by the client: destroyed later, never inside the xcomm's own close handler.
        std::set<std::string> m_closed;
    };
}
