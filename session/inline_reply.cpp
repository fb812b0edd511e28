// SPDX-License-Identifier: MIT
#include "session/inline_reply.hpp"

#include "common/queue_rules.hpp"
#include "common/reply_type.hpp"
#include "session/client_port.hpp"

#include <iostream>

namespace atrium
{
    nl::json error_content(const std::string& ename, const std::string& evalue)
    {
        return {{"status", "error"},
                {"ename", ename},
                {"evalue", evalue},
                {"traceback", nl::json::array({ename + ": " + evalue})}};
    }

    void reply_inline(client_port& server, const client_request& request, nl::json reply, const std::string& text)
    {
        server.publish_output("status", request.header(), {{"execution_state", "busy"}});
        if (!text.empty())
            server.publish_output("stream", request.header(), {{"name", "stdout"}, {"text", text}});
        finish_execute(server, request, std::move(reply));
    }

    void reply_as_cell(client_port& server, const client_request& request, int executions, nl::json reply,
                       const std::string& text)
    {
        server.publish_output("status", request.header(), {{"execution_state", "busy"}});
        if (!request.content().value("silent", false))
            server.publish_output("execute_input", request.header(),
                                  {{"code", request.content().value("code", "")}, {"execution_count", executions}});
        if (!text.empty())
            server.publish_output("stream", request.header(), {{"name", "stdout"}, {"text", text}});
        reply["execution_count"] = executions;
        finish_execute(server, request, std::move(reply));
    }

    void publish_execute_start(client_port& server, const client_request& request, int executions)
    {
        server.publish_output("status", request.header(), {{"execution_state", "busy"}});
        const nl::json& content = request.content();
        if (content.value("silent", false))
            return;
        int shown = executions + (content.value("store_history", true) ? 1 : 0);
        server.publish_output("execute_input", request.header(),
                              {{"code", content.value("code", "")}, {"execution_count", shown}});
    }

    bool stops_queue(const client_request& request, const nl::json& reply)
    {
        return queue_rules::stops_queue(request.content(), reply);
    }

    bool asks_to_end(const nl::json& reply)
    {
        return queue_rules::asks_to_end(reply);
    }

    nl::json execute_metadata(const std::string& started, const std::string& status)
    {
        return {{"started", started}, {"status", status}, {"dependencies_met", true}};
    }

    void finish_execute(client_port& server, const client_request& request, nl::json reply, nl::json metadata)
    {
        const nl::json& parent = request.header();
        if (reply.value("status", "") == "error")
            server.publish_output("error", parent,
                                  {{"ename", reply["ename"]}, {"evalue", reply["evalue"]}, {"traceback", reply["traceback"]}});
        if (!reply.contains("execution_count"))
            reply["execution_count"] = nullptr;
        reply["user_expressions"] = nl::json::object();
        reply["payload"] = nl::json::array();
        server.send_reply(request, "execute_reply", std::move(reply), std::move(metadata));
        server.publish_output("status", parent, {{"execution_state", "idle"}});
    }

    void answer_quick(client_port& server, const client_request& request, nl::json reply)
    {
        server.publish_output("status", request.header(), {{"execution_state", "busy"}});
        server.send_reply(request, reply_type_for(request.header().value("msg_type", "")), std::move(reply));
        server.publish_output("status", request.header(), {{"execution_state", "idle"}});
    }

    void refuse_comm_open(client_port& server, const client_request& request)
    {
        std::string target_name = request.content().value("target_name", "");
        // JupyterLab's widget manager probes this target on every notebook open, before any cell imported
        // ipywidgets (which registers it): an expected miss, answered quietly.
        if (target_name != "jupyter.widget.control")
            std::cerr << "[atrium] [comm.unknown] comm_open for target '" << target_name
                      << "': no such comm target registered" << std::endl;
        // Tells the client its comm has no other end.
        server.publish_output("comm_close", request.header(),
                              {{"comm_id", request.content().value("comm_id", "")}, {"data", nl::json::object()}});
    }
}
