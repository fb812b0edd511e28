// SPDX-License-Identifier: MIT
#include "kernel/python_interpreter.hpp"

#include "kernel/request_check.hpp"
#include "kernel/xeus_comm_bridge.hpp"
#include "kernel/xeus_port.hpp"
#include "kernel/zmq_server.hpp"

#include "embed/kernel_services.hpp"
#include "embed/python_runtime.hpp"
#include "session/inline_reply.hpp"
#include "session/inprocess_context.hpp"
#include "session/session_manager.hpp"

#include <unordered_map>

namespace atrium
{
    namespace
    {
        /// How a shell request that belongs to Atrium rather than xeus's core is served.
        enum class route
        {
            execute,
            quick,
            comm
        };

        const std::unordered_map<std::string, route>& routes()
        {
            static const std::unordered_map<std::string, route> table = {
                {"execute_request", route::execute},      {"complete_request", route::quick},
                {"inspect_request", route::quick},        {"is_complete_request", route::quick},
                {"history_request", route::quick},        {"comm_open", route::comm},
                {"comm_msg", route::comm},                {"comm_close", route::comm},
                {"comm_info_request", route::comm}};
            return table;
        }

        request_identity identity_of(const xeus::xmessage& message)
        {
            return atrium::identity_of(message.header(), message.metadata());
        }
    }

    python_interpreter::python_interpreter(binding_config binding, worker_settings workers)
        : m_binding(binding)
        , m_worker_settings(workers)
    {
    }

    python_interpreter::~python_interpreter()
    {
        p_sessions.reset();
        set_comm_bridge(nullptr);
    }

    void python_interpreter::attach_server(zmq_server& server)
    {
        p_server = &server;
        p_port = std::make_unique<xeus_port>(server);
        server.on_request([this](xeus::xmessage& request, std::uint64_t sequence)
                          { return route_request(request, sequence); });
        server.on_stdin([this](const xeus::xmessage& message) { return route_stdin(message); });
        server.on_interrupt([this](const xeus::xmessage& request) { p_sessions->interrupt(identity_of(request)); });
        server.on_control([this](const xeus::xmessage& message) { return route_control(message); });
        p_sessions = std::make_unique<session_manager>(m_binding, m_worker_settings, *p_port);
    }

    void python_interpreter::configure_impl()
    {
        p_runtime = std::make_unique<python_runtime>(default_python_executable());
        xeus_comm_bridge::access_policy access{
            [] { return running_context_key(); },
            [this](const xeus::xmessage& request, const std::string& owner)
            { return owner.empty() || p_sessions->may_access(identity_of(request), owner); }};
        p_comms = std::make_unique<xeus_comm_bridge>(
            comm_manager(),
            [this](const std::string& msg_type, nl::json content, nl::json metadata)
            {
                // Comm messages sent outside any cell: from a handler run for a client's comm message, the
                // request xeus's core is serving.
                p_server->publish_output(msg_type, parent_header(), std::move(content), std::move(metadata));
            },
            std::move(access));
        set_comm_bridge(p_comms.get());
        set_kernel_magic_handler(
            [this](const std::string& name, const std::string&, const std::string& username)
            {
                if (name != "contexts")
                    throw std::runtime_error("[magic.whole_cell] %" + name + " needs a cell of its own");
                request_identity who;
                who.username = username;
                return p_sessions->describe_contexts(who);
            });
        m_kernel_info = {{"implementation", "atrium"},
                         {"implementation_version", ATRIUM_VERSION},
                         {"language_info", p_runtime->language_info()},
                         {"banner", p_runtime->banner() + "\nBinding: " + describe(m_binding)},
                         {"debugger", false},
                         {"help_links",
                          nl::json::array({{{"text", "Python Reference"}, {"url", "https://docs.python.org/3/"}},
                                           {{"text", "Atrium"}, {"url", "https://github.com/atrium-kernel/atrium"}}})},
                         {"status", "ok"}};
        // From here on the main thread holds the GIL only while it serves a request.
        p_runtime->release_gil();
    }

    // ---- routing: decode, hand to the session manager ----

    bool python_interpreter::route_request(xeus::xmessage& request, std::uint64_t sequence)
    {
        auto found = routes().find(request.header().value("msg_type", ""));
        if (found == routes().end())
            return false; // kernel_info, shutdown, ...: xeus's core
        switch (found->second)
        {
        case route::execute:
            p_sessions->execute(std::make_shared<xeus_request>(std::move(request)), sequence);
            break;
        case route::quick:
            p_sessions->quick(std::make_shared<xeus_request>(std::move(request)));
            break;
        case route::comm:
            if (p_sessions->holds_comms())
                p_sessions->comm(std::make_shared<xeus_request>(std::move(request)));
            else
                serve_comm(request);
            break;
        }
        return true;
    }

    void python_interpreter::serve_comm(xeus::xmessage& request)
    {
        const std::string msg_type = request.header().value("msg_type", "");
        if (msg_type == "comm_open" && !p_comms->has_target(request.content().value("target_name", "")))
        {
            // xeus would log "received bad message" and never answer.
            xeus_request refused(std::move(request));
            p_server->publish_output("status", refused.header(), {{"execution_state", "busy"}});
            refuse_comm_open(*p_port, refused);
            p_server->publish_output("status", refused.header(), {{"execution_state", "idle"}});
        }
        else if (msg_type != "comm_info_request")
        {
            // xeus's comm registry is also changed by cells, which open comms holding the GIL on other threads
            // (scoped mode): the core dispatches the client's comm message holding it too.
            with_gil([&] { p_server->serve_with_core(std::move(request)); });
        }
        else
        {
            // Answered here rather than by xeus's core, which would list every user's comms.
            request_identity who = identity_of(request);
            nl::json comms;
            with_gil([&] {
                auto target = request.content().find("target_name");
                const std::string target_name =
                    target != request.content().end() && target->is_string() ? target->get<std::string>() : "";
                comms = p_comms->comm_info(target_name, [&](const std::string& owner)
                                           { return owner.empty() || p_sessions->may_access(who, owner); });
            });
            p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
            p_server->send_reply(request, "comm_info_reply", {{"status", "ok"}, {"comms", std::move(comms)}});
            p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
        }
    }

    bool python_interpreter::route_stdin(const xeus::xmessage& message)
    {
        if (message.header().value("msg_type", "") != "input_reply")
            return false;
        p_sessions->answer_input(message.parent_header().value("msg_id", ""), message.header().value("session", ""),
                                 message.content().value("value", ""));
        return true; // an answer nobody waits for (interrupted prompt) is dropped, not handed to xeus
    }

    bool python_interpreter::route_control(const xeus::xmessage& message)
    {
        if (message.header().value("msg_type", "") != "atrium_reset_context_request")
            return false;
        // `dispose`: a host's front closed, so its context goes rather than starting afresh (docs/host.md).
        auto dispose = message.content().find("dispose");
        const bool disposing = dispose != message.content().end() && dispose->is_boolean() && dispose->get<bool>();
        p_server->send_control_reply(message, "atrium_reset_context_reply",
                                     p_sessions->reset_context(identity_of(message), disposing));
        return true;
    }

    // ---- xeus's interface: requests that reach the core (never contexts' requests, routed above) ----

    nl::json python_interpreter::execute_request_impl(int, const std::string&, bool, bool, nl::json, bool)
    {
        return error_content("AtriumInternalError", "[kernel.routing] execute_request reached xeus's core");
    }

    nl::json python_interpreter::complete_request_impl(const std::string&, int)
    {
        return error_content("AtriumInternalError", "[kernel.routing] complete_request reached xeus's core");
    }

    nl::json python_interpreter::inspect_request_impl(const std::string&, int, int)
    {
        return error_content("AtriumInternalError", "[kernel.routing] inspect_request reached xeus's core");
    }

    nl::json python_interpreter::is_complete_request_impl(const std::string&)
    {
        return error_content("AtriumInternalError", "[kernel.routing] is_complete_request reached xeus's core");
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
        if (p_sessions)
            p_sessions->stop();
        if (p_runtime)
            p_runtime->run_exit_hooks();
        if (p_sessions)
            p_sessions->flush();
    }
}
