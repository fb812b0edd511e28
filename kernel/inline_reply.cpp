// SPDX-License-Identifier: MIT
#include "kernel/inline_reply.hpp"

#include "kernel/zmq_server.hpp"

namespace atrium
{
    nl::json error_content(const std::string& ename, const std::string& evalue)
    {
        return {{"status", "error"},
                {"ename", ename},
                {"evalue", evalue},
                {"traceback", nl::json::array({ename + ": " + evalue})}};
    }

    void reply_inline(zmq_server& server, const xeus::xmessage& request, nl::json reply, const std::string& text)
    {
        server.publish_output("status", request.header(), {{"execution_state", "busy"}});
        if (!text.empty())
            server.publish_output("stream", request.header(), {{"name", "stdout"}, {"text", text}});
        finish_execute(server, request, std::move(reply));
    }

    void finish_execute(zmq_server& server, const xeus::xmessage& request, nl::json reply, nl::json metadata)
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
}
