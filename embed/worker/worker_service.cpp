// SPDX-License-Identifier: MIT
#include "embed/worker/worker_service.hpp"

#include "embed/interrupts.hpp"

#include "embed/channel_scope.hpp"
#include "common/cell_socket.hpp"
#include "common/history_reply.hpp"
#include "common/queue_rules.hpp"
#include "common/signal_free_thread.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace atrium
{
    namespace
    {
        /// A MemoryError under the worker's address-space limit says which limit was hit.
        void explain_memory_limit(nlohmann::json& reply)
        {
            rlimit limit{};
            if (reply.value("ename", "") != "MemoryError" || getrlimit(RLIMIT_AS, &limit) != 0 ||
                limit.rlim_cur == RLIM_INFINITY)
                return;
            std::string note = "[worker.memory_limit] this note's worker may use at most " +
                               std::to_string(limit.rlim_cur >> 20) +
                               " MiB of address space (kernel option --worker-memory)";
            reply["evalue"] = reply.value("evalue", "") + (reply.value("evalue", "").empty() ? "" : "; ") + note;
            reply["traceback"].push_back(note);
        }
    }

    worker_service::worker_service(worker_link& link, const std::string& key, const cell_lane_address& lane)
        : m_link(link)
        , m_sink(link)
        , m_comms(link)
        , m_context(m_sink, true) // __main__: pickling classes defined in cells works, as in a plain python
        , m_lane_wire(key, "cells")
        , m_linked_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
    {
        if (m_linked_fd < 0)
            throw std::runtime_error("[worker.spawn] cannot create an eventfd");
        raise_requested_interrupts_only(); // the kernel interrupts by message (interrupt_through)
        m_lane = cell_socket::connect_to(lane.endpoint);
        // The name the kernel gave us, signed: the kernel learns which connection is ours. (A fresh connection's
        // queue is empty: a small datagram always fits.)
        if (cell_socket::send(m_lane, m_lane_wire.seal({{"type", "hello"}, {"lane", lane.id}, {"pid", getpid()}})) !=
            cell_socket::send_result::sent)
            throw std::runtime_error("[worker.spawn] cannot say hello on the cells channel " + lane.endpoint);
        set_comm_bridge(&m_comms);
        m_quick_thread = start_signal_free_thread([this] { serve_quick_forever(); });
        m_link.start([this](worker_message message) { dispatch(std::move(message)); });
    }

    void worker_service::dispatch(worker_message message)
    {
        const std::string type = message.type();
        if (type == "execute" || type == "resume")
        {
            {
                std::lock_guard<std::mutex> lock(m_linked_mutex);
                m_linked_cells.push_back(std::move(message.header));
            }
            std::uint64_t one = 1;
            (void)!write(m_linked_fd, &one, sizeof one);
        }
        else if (type == "input_reply")
            m_sink.answer_input(message.header.value("value", ""));
        else if (type == "interrupt")
        {
            auto through = message.header.find("through");
            if (through != message.header.end() && through->is_number_unsigned())
                interrupt_through(through->get<std::uint64_t>());
        }
        else
            m_quick.push(std::move(message.header));
    }

    void worker_service::interrupt_through(std::uint64_t id)
    {
        // The kernel shows a cell started before it runs here (cells are pipelined): if it runs now, it is
        // interrupted now (or at its scope's start); if it has yet to start, it starts interrupted (execute()).
        std::lock_guard<std::mutex> lock(m_interrupt_mutex);
        m_interrupt_through = std::max(m_interrupt_through, id);
        if (m_running_cell != 0 && m_running_cell <= id)
            interrupt_running_or_next();
    }

    void worker_service::run()
    {
        while (true)
        {
            pollfd items[] = {{m_linked_fd, POLLIN, 0}, {m_lane, POLLIN, 0}};
            if (poll(items, m_lane >= 0 ? 2 : 1, -1) < 0)
                continue; // EINTR: SIGINT while idle is ignored
            serve_waiting_cells();
        }
    }

    void worker_service::serve_waiting_cells()
    {
        collect_cells();
        while (auto cell = m_order.next())
        {
            if (execute(*cell))
                m_order.pause();
            collect_cells(); // a resume, or the next cell, may have come meanwhile
        }
    }

    void worker_service::collect_cells()
    {
        std::uint64_t drained;
        (void)!read(m_linked_fd, &drained, sizeof drained);
        std::deque<nlohmann::json> linked;
        {
            std::lock_guard<std::mutex> lock(m_linked_mutex);
            linked.swap(m_linked_cells);
        }
        for (auto& cell : linked)
            if (!m_order.add(std::move(cell)))
                std::cerr << "[atrium-worker " << getpid() << "] [worker.bad_message] refused a cell without its number"
                          << std::endl;
        while (m_lane >= 0)
        {
            switch (cell_socket::receive(m_lane, m_datagram))
            {
            case cell_socket::receive_result::nothing:
                return;
            case cell_socket::receive_result::closed:
                lose_lane("the kernel closed it");
                return;
            case cell_socket::receive_result::oversize:
                lose_lane("an oversize datagram came");
                return;
            case cell_socket::receive_result::message:
                break;
            }
            std::optional<worker_message> message;
            try
            {
                message = m_lane_wire.open(m_datagram);
            }
            catch (const worker_wire_error& e)
            {
                std::cerr << "[atrium-worker " << getpid() << "] refused on the cells channel: " << e.what()
                          << std::endl;
                continue;
            }
            if (message->type() == "execute" || message->type() == "resume")
            {
                if (!m_order.add(std::move(message->header)))
                    std::cerr << "[atrium-worker " << getpid()
                              << "] [worker.bad_message] refused on the cells channel: a cell without its number"
                              << std::endl;
            }
            else
                std::cerr << "[atrium-worker " << getpid() << "] refused on the cells channel: a "
                          << message->type() << " message" << std::endl;
        }
    }

    void worker_service::lose_lane(const char* why)
    {
        std::cerr << "[atrium-worker " << getpid() << "] [worker.lane] the cells channel is closed (" << why
                  << "): replies go on the link" << std::endl;
        close(m_lane);
        m_lane = -1;
    }

    void worker_service::send_reply(nlohmann::json reply)
    {
        if (m_lane >= 0)
        {
            switch (cell_socket::send(m_lane, m_lane_wire.seal(reply)))
            {
            case cell_socket::send_result::sent:
                return;
            case cell_socket::send_result::gone:
                lose_lane("the kernel's end is gone");
                break;
            case cell_socket::send_result::would_block:
            case cell_socket::send_result::too_large:
                break; // the slow way, this once (the number it skipped is fine: the kernel wants increasing ones)
            }
        }
        reply["type"] = "cell_reply";
        m_link.send(std::move(reply));
    }

    bool worker_service::execute(const nlohmann::json& message)
    {
        const nlohmann::json& header = message["header"];
        const nlohmann::json& content = message["content"];
        std::string code = content.value("code", "");
        bool silent = content.value("silent", false); // execute_input was published by the kernel
        execute_options options{silent, content.value("store_history", true) && !silent,
                                content.value("allow_stdin", true),
                                content.value("user_expressions", nlohmann::json::object())};
        const nlohmann::json& id = message["id"];
        const std::uint64_t cell_id = id.is_number_unsigned() ? id.get<std::uint64_t>() : 0;
        m_sink.begin_request(header, cell_id, options.allow_stdin);
        {
            std::lock_guard<std::mutex> lock(m_interrupt_mutex);
            m_running_cell = cell_id;
            if (cell_id != 0 && cell_id <= m_interrupt_through)
                interrupt_next_scope();
        }
        set_thread_requester(header.value("username", ""), false);
        nlohmann::json reply;
        try
        {
            reply = m_context.execute(code, options);
        }
        catch (const std::exception& e)
        {
            reply = {{"status", "error"},
                     {"ename", "AtriumInternalError"},
                     {"evalue", e.what()},
                     {"traceback", nlohmann::json::array({std::string("[worker.internal] ") + e.what()})}};
        }
        {
            std::lock_guard<std::mutex> lock(m_interrupt_mutex);
            m_running_cell = 0;
            forget_next_scope_interrupt(); // one that came as the cell ended must not hit the next
        }
        m_sink.finish_request();
        explain_memory_limit(reply);
        if (!reply.contains("execution_count"))
            reply["execution_count"] = m_context.execution_count();
        if (options.store_history)
        {
            std::lock_guard<std::mutex> lock(m_history_mutex);
            m_history.append(m_context.execution_count(), code);
        }
        // The kernel's rule, and exit(): either way the cells it sent behind this one must not run here.
        const bool paused = queue_rules::stops_queue(content, reply) || queue_rules::asks_to_end(reply);
        // After everything the cell printed: the kernel publishes idle once it has relayed message `after`.
        send_reply({{"type", "reply"},
                    {"id", message["id"]},
                    {"content", std::move(reply)},
                    {"after", m_link.last_queued()},
                    {"paused", paused}});
        return paused;
    }

    void worker_service::serve_quick_forever()
    {
        while (true)
        {
            nlohmann::json message = m_quick.pop();
            try
            {
                if (message.value("type", "") == "request")
                    serve_quick(message);
                else
                    deliver_comm(message);
            }
            catch (const std::exception& e)
            {
                std::cerr << "[atrium-worker] " << message.value("type", "") << " failed: " << e.what() << std::endl;
            }
            if (message.value("type", "") != "request")
                m_link.send({{"type", "comm_handled"}, {"id", message["id"]}}); // the kernel's idle for it
        }
    }

    void worker_service::serve_quick(const nlohmann::json& message)
    {
        nlohmann::json reply;
        try
        {
            const std::string msg_type = message.value("msg_type", "");
            const nlohmann::json& content = message.at("content");
            if (auto answer = m_context.answer_code_request(msg_type, content))
                reply = std::move(*answer);
            else if (msg_type == "history_request")
            {
                std::lock_guard<std::mutex> lock(m_history_mutex);
                reply = history_reply(m_history, content);
            }
            else
                throw std::invalid_argument("[worker.unknown_request] " + msg_type);
        }
        catch (const std::exception& e)
        {
            reply = {{"status", "error"}, {"ename", "AtriumInternalError"}, {"evalue", e.what()},
                     {"traceback", nlohmann::json::array({e.what()})}};
        }
        m_link.send({{"type", "reply"}, {"id", message["id"]}, {"content", std::move(reply)}});
    }

    void worker_service::deliver_comm(const nlohmann::json& message)
    {
        const std::string type = message.value("type", "");
        const nlohmann::json& msg = message["msg"];
        std::string comm_id = message.value("comm_id", "");
        m_comms.set_handler_parent(msg.value("header", nlohmann::json::object()));
        if (type == "comm_open")
        {
            m_comms.adopt(comm_id);
            deliver_comm_open(message.value("target_name", ""), comm_id, msg);
        }
        else if (type == "comm_msg")
            deliver_comm_msg(comm_id, msg);
        else if (type == "comm_close")
        {
            m_comms.forget(comm_id);
            deliver_comm_close(comm_id, msg);
        }

    }
}
