// SPDX-License-Identifier: MIT
#include "kernel/xeus_comm_bridge.hpp"

#include "kernel/request_check.hpp"

#include <iostream>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        /// Destroys a comm xeus handed to a target callback so that xeus forgets it. xeus 2.4's
        /// `xcomm(xtarget*, xguid)` leaves `m_moved_from` uninitialised: a comm built that way and destroyed
        /// unmoved may skip unregistering (stack garbage decides), leaving xeus's comm table pointing into a
        /// returned frame, so the next comm_msg with that id jumps through garbage (SIGSEGV, found by
        /// test/fuzz/fuzz_comm_routing; it did not reproduce input by input). A move sets the flag on both
        /// sides, so the moved-to comm unregisters for certain.
        void drop(xeus::xcomm&& comm)
        {
            xeus::xcomm owned(std::move(comm));
        }

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

    xeus::xcomm& xeus_comm_bridge::adopt(xeus::xcomm comm, const std::string& owner, const std::string& target_name)
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
        slot = {std::move(owned), owner, target_name};
        return *slot.comm;
    }

    xeus::xcomm& xeus_comm_bridge::find(const std::string& comm_id)
    {
        auto it = m_comms.find(comm_id);
        if (it == m_comms.end())
        {
            throw std::invalid_argument("[comm.unknown] no open comm with id " + comm_id);
        }
        return *it->second.comm;
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
        // A cell chooses the id (`Comm(comm_id=...)`); xeus copies it into a 55-character buffer unchecked.
        if (std::string problem = comm_id_problem(comm_id); !problem.empty())
            throw std::invalid_argument(problem);
        bool added = false;
        {
            std::lock_guard<std::mutex> lock(m_targets_mutex);
            added = m_targets.emplace(target_name, m_access.current_owner()).second;
        }
        if (added)
        {
            // xeus needs a kernel-side target to publish through, even for comms only the client handles.
            m_manager.register_comm_target(target_name, [](xeus::xcomm&& comm, xeus::xmessage) { drop(std::move(comm)); });
        }
        // Registered with xeus so that the client's messages reach it.
        std::string owner = m_access.current_owner(); // nothing may throw between building the comm and moving it
        adopt(xeus::xcomm(m_manager.target(target_name), xeus::xguid(comm_id)), owner, target_name);
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

    nl::json xeus_comm_bridge::comm_info(const std::string& target_name,
                                         const std::function<bool(const std::string& owner)>& visible) const
    {
        nl::json comms = nl::json::object();
        for (const auto& [id, owned] : m_comms)
        {
            if (m_closed.count(id) != 0 || (!target_name.empty() && owned.target_name != target_name) ||
                !visible(owned.owner))
                continue;
            comms[id] = {{"target_name", owned.target_name}};
        }
        return comms;
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
                                           {
                                               drop(std::move(comm));
                                               return;
                                           }
                                           std::string id = std::string(comm.id());
                                           adopt(std::move(comm), owner, target_name);
                                           deliver_comm_open(target_name, id, as_dict(request));
                                       });
    }
}
