// SPDX-License-Identifier: MIT
#include "kernel/python_interpreter.hpp"

#include "kernel/message_header.hpp"
#include "kernel/xeus_comm_bridge.hpp"
#include "kernel/zmq_server.hpp"

#include "embed/execution_context.hpp"
#include "embed/interrupts.hpp"
#include "embed/python_runtime.hpp"
#include "session/history_store.hpp"

#include <xeus/xmessage.hpp>

#include <chrono>

namespace atrium
{
    python_interpreter::python_interpreter(history_store& history)
        : m_history(history)
    {
        register_input_handler(
            [this](const std::string& value)
            {
                {
                    std::lock_guard<std::mutex> lock(m_input_mutex);
                    m_input_value = value;
                }
                m_input_ready.notify_all();
            });
    }

    python_interpreter::~python_interpreter()
    {
        set_comm_bridge(nullptr);
    }

    void python_interpreter::configure_impl()
    {
        p_runtime = std::make_unique<python_runtime>(default_python_executable());
        p_comms = std::make_unique<xeus_comm_bridge>(
            comm_manager(), [this](const std::string& msg_type, nl::json content, nl::json metadata)
            { p_server->publish_output(msg_type, output_parent(), std::move(content), std::move(metadata)); });
        set_comm_bridge(p_comms.get());
        m_kernel_info = {{"implementation", "atrium"},
                         {"implementation_version", ATRIUM_VERSION},
                         {"language_info", p_runtime->language_info()},
                         {"banner", p_runtime->banner()},
                         {"debugger", false},
                         {"help_links",
                          nl::json::array({{{"text", "Python Reference"}, {"url", "https://docs.python.org/3/"}},
                                           {{"text", "Atrium"}, {"url", "https://github.com/atrium-kernel/atrium"}}})},
                         {"status", "ok"}};
        output_sink& sink = *this; // private base: converted here, where it is accessible
        p_context = std::make_unique<execution_context>(sink, /*main_module=*/true);
        // From here on the main thread holds the GIL only while it serves a request.
        p_runtime->release_gil();
    }

    template <class F>
    nl::json python_interpreter::guarded(F&& request)
    {
        try
        {
            return request();
        }
        catch (const std::exception& e)
        {
            return {{"status", "error"},
                    {"ename", "AtriumInternalError"},
                    {"evalue", e.what()},
                    {"traceback", nl::json::array({std::string("[kernel.internal] ") + e.what()})}};
        }
    }

    nl::json python_interpreter::execute_request_impl(int, const std::string& code, bool silent, bool store_history,
                                                      nl::json user_expressions, bool allow_stdin)
    {
        return guarded(
            [&]
            {
                {
                    std::lock_guard<std::mutex> lock(m_parent_mutex);
                    m_execute_parent = parent_header();
                }
                m_allow_stdin = allow_stdin;
                execute_options options{silent, store_history, allow_stdin, std::move(user_expressions)};
                nl::json reply = p_context->execute(code, options);
                if (store_history && !silent)
                {
                    // Stored here, not by xeus's core: the core numbers every entry as line 1.
                    m_history.append(p_context->execution_count(), code);
                }
                return reply;
            });
    }

    void python_interpreter::serve_execute(xeus::xmessage request)
    {
        const nl::json& content = request.content();
        const nl::json& parent = request.header();
        nl::json metadata = {{"started", iso8601_utc_now()}};
        p_server->publish_output("status", parent, {{"execution_state", "busy"}});

        std::string code = content.value("code", "");
        bool silent = content.value("silent", false);
        execute_options options{silent, content.value("store_history", true) && !silent,
                                content.value("allow_stdin", true),
                                content.value("user_expressions", nl::json::object())};
        bool stop_on_error = content.value("stop_on_error", true);
        {
            std::lock_guard<std::mutex> lock(m_parent_mutex);
            m_execute_parent = parent;
        }
        if (!silent)
        {
            // ipykernel's numbering: only stored cells advance the count, so In[] numbers have no gaps.
            int shown = p_context->execution_count() + (options.store_history ? 1 : 0);
            p_server->publish_output("execute_input", parent, {{"code", code}, {"execution_count", shown}});
        }
        m_allow_stdin = options.allow_stdin;
        p_current_request = &request;
        nl::json reply = guarded([&] { return p_context->execute(code, options); });
        p_current_request = nullptr;
        if (!reply.contains("execution_count"))
        {
            reply["execution_count"] = p_context->execution_count();
        }
        if (options.store_history)
        {
            m_history.append(p_context->execution_count(), code);
        }
        std::string status = reply.value("status", "error");
        metadata["status"] = status;
        metadata["dependencies_met"] = true;
        p_server->send_reply(request, "execute_reply", std::move(reply), std::move(metadata));
        if (status == "error" && stop_on_error && !silent)
        {
            p_server->abort_requests_before_last_reply();
        }
        p_server->publish_output("status", parent, {{"execution_state", "idle"}});
    }

    nl::json python_interpreter::complete_request_impl(const std::string& code, int cursor_pos)
    {
        return guarded([&] { return p_context->complete(code, cursor_pos); });
    }

    nl::json python_interpreter::inspect_request_impl(const std::string& code, int cursor_pos, int detail_level)
    {
        return guarded([&] { return p_context->inspect(code, cursor_pos, detail_level); });
    }

    nl::json python_interpreter::is_complete_request_impl(const std::string& code)
    {
        return guarded([&] { return p_context->is_complete(code); });
    }

    nl::json python_interpreter::kernel_info_request_impl()
    {
        // Answered from a copy made at start-up: this can run on the I/O thread while a cell holds the GIL.
        return m_kernel_info;
    }

    void python_interpreter::shutdown_request_impl()
    {
    }

    void python_interpreter::finish()
    {
        if (p_runtime)
        {
            p_runtime->run_exit_hooks();
        }
        if (p_context)
        {
            p_context->channel().flush();
        }
    }

    void python_interpreter::attach_server(zmq_server& server)
    {
        p_server = &server;
    }

    nl::json python_interpreter::output_parent()
    {
        if (std::this_thread::get_id() == m_main_thread)
        {
            // Serving an execute_request (Atrium's own path) or another request through xeus's core.
            return p_current_request ? p_current_request->header() : parent_header();
        }
        std::lock_guard<std::mutex> lock(m_parent_mutex);
        return m_execute_parent;
    }

    void python_interpreter::publish(const std::string& msg_type, nl::json content)
    {
        if (msg_type == "display_data" || msg_type == "update_display_data")
        {
            content["transient"] = content.value("transient", nl::json::object());
        }
        p_server->publish_output(msg_type, output_parent(), std::move(content));
    }

    std::optional<std::string> python_interpreter::request_input(const std::string& prompt, bool password)
    {
        if (!m_allow_stdin || p_current_request == nullptr)
        {
            return std::nullopt;
        }
        std::unique_lock<std::mutex> lock(m_input_mutex);
        m_input_value.reset();
        lock.unlock();
        // Sent here rather than through xeus, which names the password flag "pwd" instead of the protocol's
        // "password" (frontends would then echo what the user types at a getpass prompt).
        p_server->send_to_stdin(*p_current_request, "input_request", {{"prompt", prompt}, {"password", password}});
        lock.lock();
        // Wake now and then: an interrupt must end the wait even though no reply will come.
        while (!m_input_value)
        {
            if (interrupt_pending())
            {
                throw interrupted();
            }
            m_input_ready.wait_for(lock, std::chrono::milliseconds(50));
        }
        return m_input_value;
    }
}
