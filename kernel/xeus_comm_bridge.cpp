// SPDX-License-Identifier: MIT
#include "kernel/xeus_comm_bridge.hpp"

#include <iostream>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        nl::json as_dict(const xeus::xmessage& message)
        {
            return {{"header", message.header()},
                    {"parent_header", message.parent_header()},
                    {"metadata", message.metadata()},
                    {"content", message.content()},
                    {"buffers", nl::json::array()}};
        }
    }

    xeus_comm_bridge::xeus_comm_bridge(xeus::xcomm_manager& manager, publisher publish, access_policy access)
        : m_manager(manager)
        , m_publish(std::move(publish))
        , m_access(std::move(access))
    {
    }

    bool xeus_comm_bridge::allowed(const xeus::xmessage& request, const std::string& owner, const char* what) const
    {
        if (m_access.may_use(request, owner))
            return true;
        std::cerr << "[atrium] [comm.forbidden] refused " << what << " from user '"
                  << request.header().value("username", "") << "': the comm belongs to " << owner << std::endl;
        return false;
    }

    xeus::xcomm& xeus_comm_bridge::adopt(xeus::xcomm comm, const std::string& owner)
    {
        collect_closed();
        std::string id = std::string(comm.id());
        auto owned = std::make_unique<xeus::xcomm>(std::move(comm));
        owned->on_message(
            [this, id, owner](xeus::xmessage message)
            {
                if (allowed(message, owner, "comm_msg"))
                    deliver_comm_msg(id, as_dict(message));
            });
        owned->on_close(
            [this, id, owner](xeus::xmessage message)
            {
                if (!allowed(message, owner, "comm_close"))
                    return;
                m_closed.insert(id);
                deliver_comm_close(id, as_dict(message));
            });
        auto& slot = m_comms[id];
        slot = std::move(owned);
        return *slot;
    }

    xeus::xcomm& xeus_comm_bridge::find(const std::string& comm_id)
    {
        auto it = m_comms.find(comm_id);
        if (it == m_comms.end())
        {
            throw std::invalid_argument("[comm.unknown] no open comm with id " + comm_id);
        }
        return *it->second;
    }

    void xeus_comm_bridge::collect_closed()
    {
        for (const auto& id : m_closed)
        {
            m_comms.erase(id);
        }
        m_closed.clear();
    }

    void xeus_comm_bridge::open(const std::string& comm_id, const std::string& target_name)
    {
        bool added = false;
        {
            std::lock_guard<std::mutex> lock(m_targets_mutex);
            added = m_targets.emplace(target_name, m_access.current_owner()).second;
        }
        if (added)
        {
            // xeus needs a kernel-side target to publish through, even for comms only the client handles.
            m_manager.register_comm_target(target_name, [](xeus::xcomm&&, xeus::xmessage) {});
        }
        // Registered with xeus so that the client's messages reach it.
        adopt(xeus::xcomm(m_manager.target(target_name), xeus::xguid(comm_id)), m_access.current_owner());
    }

    void xeus_comm_bridge::check_open(const std::string& comm_id)
    {
        find(comm_id);
    }

    void xeus_comm_bridge::close(const std::string& comm_id)
    {
        find(comm_id);
        m_closed.insert(comm_id);
        collect_closed();
    }

    void xeus_comm_bridge::publish(const std::string& msg_type, nl::json content, nl::json metadata)
    {
        m_publish(msg_type, std::move(content), std::move(metadata));
    }

    bool xeus_comm_bridge::has_target(const std::string& target_name) const
    {
        std::lock_guard<std::mutex> lock(m_targets_mutex);
        return m_targets.count(target_name) != 0;
    }

    void xeus_comm_bridge::register_target(const std::string& target_name)
    {
        std::string owner = m_access.current_owner();
        {
            std::lock_guard<std::mutex> lock(m_targets_mutex);
            m_targets[target_name] = owner;
        }
        m_manager.register_comm_target(target_name,
                                       [this, target_name, owner](xeus::xcomm&& comm, xeus::xmessage request)
                                       {
                                           if (!allowed(request, owner, "comm_open"))
                                               return; // the xcomm is dropped, so xeus forgets it
                                           std::string id = std::string(comm.id());
                                           adopt(std::move(comm), owner);
                                           deliver_comm_open(target_name, id, as_dict(request));
                                       });
    }
}
