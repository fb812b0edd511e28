// SPDX-License-Identifier: MIT
// Comm routing: the in-process bridge on xeus's comm manager (what xeus does with comm ids) and the isolated
// modes' owner table, driven by a script of cell-side and client-side operations. Client messages go through
// request_problem first, exactly as the server does, so only what the server would pass reaches xeus.
// Input: operations separated by NUL; each is an op letter and tab-separated arguments:
//   T name            a cell registers a comm target          O id<TAB>target   a cell opens a comm
//   C id              a cell closes a comm                     K id              a cell sends on a comm
//   o/m/c json        the client's comm_open/msg/close content u owner           the context running cells
//   r id<TAB>target<TAB>owner  a worker opened a comm (remote_comms)             x id   ... closed it
//   f owner           a worker is gone                         i target          comm_info for a target
// The harness defines the bridge's Python-side callbacks (embed/) itself: nothing here embeds Python.
#include "embed/comm_bridge.hpp"
#include "fuzz_input.hpp"
#include "session/remote_comms.hpp"
#include "kernel/request_check.hpp"
#include "kernel/xeus_comm_bridge.hpp"

#include <set>

namespace atrium
{
    namespace
    {
        std::set<std::string>* g_delivered_open = nullptr;
    }
    void set_comm_bridge(comm_bridge*) {}
    void deliver_comm_open(const std::string&, const std::string& comm_id, const nlohmann::json& msg)
    {
        fuzz::require(msg.at("content").at("comm_id") == comm_id, "delivered open carries its id");
        if (g_delivered_open)
            g_delivered_open->insert(comm_id);
    }
    void deliver_comm_msg(const std::string& comm_id, const nlohmann::json& msg)
    {
        fuzz::require(msg.at("content").at("comm_id") == comm_id, "delivered message carries its id");
    }
    void deliver_comm_close(const std::string& comm_id, const nlohmann::json& msg)
    {
        fuzz::require(msg.at("content").at("comm_id") == comm_id, "delivered close carries its id");
    }
}

using namespace atrium;
using nlohmann::json;

namespace
{
    /// Fills the stack below this frame with ones, so that what xeus leaves uninitialised in the frames it
    /// builds next is not zero by luck (xcomm's m_moved_from): its bugs then show on every run, not one in many.
    __attribute__((noinline)) void dirty_stack()
    {
        volatile unsigned char bytes[8192];
        for (auto& b : bytes)
            b = 0xff;
    }

    std::vector<std::string> args_of(const std::string& op)
    {
        std::vector<std::string> args(1);
        for (std::size_t i = 1; i < op.size(); ++i)
        {
            if (op[i] == '\t')
                args.emplace_back();
            else
                args.back().push_back(op[i]);
        }
        return args;
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto ops = fuzz::split_parts(data, size);
    if (ops.size() > 64)
        ops.resize(64); // longer scripts add time, not coverage
    std::string owner = "note-a";
    std::set<std::string> delivered;
    g_delivered_open = &delivered;
    remote_comms remote;
    {
        xeus::xcomm_manager manager(nullptr);
        xeus_comm_bridge::access_policy access{[&owner] { return owner; },
                                               [](const xeus::xmessage& request, const std::string&)
                                               { return request.header().value("username", "") != "mallory"; }};
        xeus_comm_bridge bridge(manager, [](const std::string&, json, json) {}, access);
        int serial = 0;
        for (const auto& op : ops)
        {
            if (op.empty())
                continue;
            auto args = args_of(op);
            args.resize(3);
            try
            {
                switch (op[0])
                {
                case 'T':
                    bridge.register_target(args[0]);
                    break;
                case 'O':
                    bridge.open(args[0], args[1]);
                    fuzz::require(!comm_id_problem(args[0]).size(), "the bridge opened only a storable id");
                    break;
                case 'C':
                    bridge.close(args[0]);
                    break;
                case 'K':
                    bridge.check_open(args[0]);
                    break;
                case 'u':
                    owner = args[0];
                    break;
                case 'o':
                case 'm':
                case 'c':
                {
                    const std::string type = op[0] == 'o' ? "comm_open" : op[0] == 'm' ? "comm_msg" : "comm_close";
                    json content = json::parse(op.substr(1), nullptr, false);
                    json header = {{"msg_id", std::to_string(++serial)}, {"msg_type", type},
                                   {"session", "s"}, {"username", serial % 3 ? "alice" : "mallory"}};
                    if (content.is_discarded() || !request_problem(header, json::object(), json::object(), content).empty())
                        break; // the server refuses it before xeus sees it
                    xeus::xmessage message({}, header, json::object(), json::object(), content, {});
                    dirty_stack();
                    if (type == "comm_open")
                        manager.comm_open(std::move(message));
                    else if (type == "comm_msg")
                        manager.comm_msg(std::move(message));
                    else
                        manager.comm_close(std::move(message));
                    break;
                }
                case 'r':
                    remote.opened(args[0], args[1], args[2]);
                    fuzz::require(remote.owner_of_comm(args[0]) == args[2], "an opened comm has its owner");
                    break;
                case 'x':
                    remote.closed(args[0]);
                    fuzz::require(!remote.owner_of_comm(args[0]), "a closed comm has no owner");
                    break;
                case 'f':
                    remote.forget_owner(args[0]);
                    break;
                case 'R':
                    remote.target_registered(args[0], args[1]);
                    break;
                case 'i':
                {
                    json comms = remote.comm_info(args[0], [](const std::string& o) { return o != "hidden"; });
                    for (const auto& [id, entry] : comms.items())
                    {
                        fuzz::require(remote.owner_of_comm(id).has_value(), "listed comms are open");
                        fuzz::require(args[0].empty() || entry.at("target_name") == args[0], "listed by target");
                    }
                    (void)remote.owner_of_target(args[0]);
                    break;
                }
                default:
                    break;
                }
            }
            catch (const std::exception&)
            {
                // Refusals ([comm.unknown], [comm.bad_id], xeus's unknown target) are answers, not findings.
            }
            // xeus routes client messages through raw pointers: each must still point at a live comm with that id.
            // (Read here, in instrumented code, so ASan reports a dangling one with its allocation and free.)
            for (const auto& [id, comm] : manager.comms())
            {
                {
                    // A pointer into a frame below this one is a comm that lived in a call that has returned.
                    char here;
                    auto p = reinterpret_cast<std::uintptr_t>(comm), h = reinterpret_cast<std::uintptr_t>(&here);
                    fuzz::require(!(p < h && h - p < (1u << 20)), "xeus's comm table points into a returned frame");
                }
                fuzz::require(comm->id() == id, "xeus's comm table points at the comm with that id");
            }
        }
    }
    g_delivered_open = nullptr;
    return 0;
}
