// SPDX-License-Identifier: MIT
#include "embed/worker/worker_sink.hpp"

#include "common/comm_id.hpp"
#include "common/raw_frames.hpp"
#include "embed/interrupts.hpp"

#include <chrono>

namespace atrium
{
    namespace
    {
        /// Big strings (a coalesced stream chunk, an image) travel as raw frames: see common/raw_frames.hpp.
        /// `cell_id`: the kernel's id of the cell whose output this is (0: none, e.g. a comm handler's).
        void send_publish(worker_link& link, nlohmann::json parent, const std::string& msg_type,
                          nlohmann::json content, nlohmann::json metadata, std::uint64_t cell_id = 0)
        {
            nlohmann::json message = {{"type", "publish"},
                                      {"parent", std::move(parent)},
                                      {"msg_type", msg_type},
                                      {"content", std::move(content)},
                                      {"metadata", std::move(metadata)}};
            if (cell_id)
                message["cell_id"] = cell_id;
            std::string blob;
            raw_frames::lift(message, blob, {"content", "metadata"});
            link.send(std::move(message), std::move(blob));
        }
    }

    worker_sink::worker_sink(worker_link& link)
        : m_link(link)
    {
    }

    void worker_sink::begin_request(const nlohmann::json& parent_header, std::uint64_t cell_id, bool allow_stdin)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_parent = parent_header;
        m_cell_id = cell_id;
        m_allow_stdin = allow_stdin;
    }

    void worker_sink::finish_request()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_allow_stdin = false;
    }

    void worker_sink::answer_input(const std::string& value)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (!m_waiting)
                return;
            m_answer = value;
        }
        m_input_ready.notify_all();
    }

    void worker_sink::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
    {
        nlohmann::json parent;
        std::uint64_t cell_id;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            parent = m_parent;
            cell_id = m_cell_id;
        }
        send_publish(m_link, std::move(parent), msg_type, std::move(content), std::move(metadata), cell_id);
    }

    std::optional<std::string> worker_sink::request_input(const std::string& prompt, bool password)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (!m_allow_stdin)
            return std::nullopt;
        m_answer.reset();
        m_waiting = true;
        // The kernel sends the input_request to the client that made the request and routes its answer here.
        m_link.send({{"type", "input_request"},
                     {"prompt", prompt},
                     {"password", password},
                     {"cell_id", m_cell_id}}); // which of the pipelined cells asks
        bool answered = wait_unless_interrupted(lock, m_input_ready, [this] { return m_answer.has_value(); },
                                                [] { return false; });
        m_waiting = false;
        if (!answered)
            throw interrupted();
        return m_answer;
    }

    worker_comms::worker_comms(worker_link& link)
        : m_link(link)
    {
    }

    void worker_comms::set_handler_parent(const nlohmann::json& parent_header)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_handler_parent = parent_header;
    }

    void worker_comms::open(const std::string& comm_id, const std::string& target_name)
    {
        // The same bound as in-process comms, so a cell behaves alike in every mode.
        if (std::string problem = comm_id_problem(comm_id); !problem.empty())
            throw std::invalid_argument(problem);
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_open.insert(comm_id);
        }
        m_link.send({{"type", "comm_opened"}, {"comm_id", comm_id}, {"target_name", target_name}});
    }

    void worker_comms::check_open(const std::string& comm_id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_open.count(comm_id))
            throw std::invalid_argument("[comm.unknown] no open comm with id " + comm_id);
    }

    void worker_comms::close(const std::string& comm_id)
    {
        forget(comm_id);
        m_link.send({{"type", "comm_closed"}, {"comm_id", comm_id}});
    }

    void worker_comms::adopt(const std::string& comm_id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_open.insert(comm_id);
    }

    void worker_comms::forget(const std::string& comm_id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_open.erase(comm_id);
    }

    void worker_comms::register_target(const std::string& target_name)
    {
        m_link.send({{"type", "comm_target"}, {"target_name", target_name}});
    }

    void worker_comms::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
    {
        nlohmann::json parent;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            parent = m_handler_parent;
        }
        send_publish(m_link, std::move(parent), msg_type, std::move(content), std::move(metadata));
    }
}
