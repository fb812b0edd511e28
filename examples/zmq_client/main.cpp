// SPDX-License-Identifier: MIT
// atrium-client: runs cells on a Jupyter kernel over ZeroMQ, with Atrium's own wire library.
//
//   atrium-client --connect kernel-1234.json --code 'print(1 + 1)'
//   atrium-client --start build/share/jupyter/kernels/atrium-scoped/kernel.json
//                 --note A --code 'import time; time.sleep(1); print("A")' --note B --code 'print("B")'
//
// Every cell is sent at once; each `--code` runs in the note named by the `--note` before it (request
// metadata `atrium_note`), so on a per-note kernel different notes run side by side. Streams and results are
// printed as they arrive, prefixed `[NOTE] ` when notes are named. Exit status: 0 when every cell succeeded,
// 1 when one failed, 2 for bad usage or a kernel that cannot be reached.
#include "kernel_connection.hpp"
#include "kernel_launcher.hpp"

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace
{
    const char* const usage =
        "usage: atrium-client (--connect CONNECTION_FILE | --start KERNEL_JSON) [--timeout SECONDS]\n"
        "                     [--note NAME] --code CODE [[--note NAME] --code CODE ...]\n"
        "  --connect FILE  use the running kernel that FILE describes\n"
        "  --start SPEC    start the kernel of a kernelspec's kernel.json; shut it down at the end\n"
        "  --note NAME     the cells after it run in note NAME (metadata.atrium_note)\n"
        "  --code CODE     one cell; all cells are sent at once\n";

    struct cell
    {
        std::string note;
        std::string code;
    };

    struct options
    {
        std::string connect;
        std::string start;
        double timeout = 60;
        std::vector<cell> cells;
    };

    bool parse(int argc, char* argv[], options& out)
    {
        std::string note;
        for (int i = 1; i < argc; ++i)
        {
            std::string flag = argv[i];
            if (i + 1 >= argc)
                return false;
            std::string value = argv[++i];
            if (flag == "--connect")
                out.connect = value;
            else if (flag == "--start")
                out.start = value;
            else if (flag == "--note")
                note = value;
            else if (flag == "--code")
                out.cells.push_back({note, value});
            else if (flag == "--timeout")
                out.timeout = std::stod(value);
            else
                return false;
        }
        return !out.cells.empty() && (out.connect.empty() != out.start.empty());
    }

    /// What is still owed for one cell, and its stream text not yet ended by a newline.
    struct pending
    {
        std::string label; ///< "[NOTE] " or empty
        bool replied = false;
        bool idle = false;
        std::map<std::string, std::string> partial; ///< stream name -> unfinished line
    };

    /// Prints `text` line by line with the cell's label; keeps an unfinished last line for later.
    void print_lines(pending& cell, const std::string& stream, const std::string& text)
    {
        std::ostream& out = stream == "stderr" ? std::cerr : std::cout;
        std::string& buffer = cell.partial[stream];
        buffer += text;
        std::string::size_type end;
        while ((end = buffer.find('\n')) != std::string::npos)
        {
            out << cell.label << buffer.substr(0, end) << "\n";
            buffer.erase(0, end + 1);
        }
        out.flush();
    }

    void flush_lines(pending& cell)
    {
        for (auto& [stream, buffer] : cell.partial)
            if (!buffer.empty())
                print_lines(cell, stream, "\n");
    }

    int run(atrium_client::kernel_connection& kernel, const options& opts)
    {
        using channel = atrium_client::kernel_connection::channel;
        std::map<std::string, pending> cells;
        for (const cell& c : opts.cells)
        {
            nlohmann::json metadata = nlohmann::json::object();
            if (!c.note.empty())
                metadata["atrium_note"] = c.note;
            nlohmann::json content = {{"code", c.code},          {"silent", false},
                                      {"store_history", true},   {"user_expressions", nlohmann::json::object()},
                                      {"allow_stdin", false},    {"stop_on_error", false}};
            std::string id = kernel.send("execute_request", std::move(content), std::move(metadata));
            cells[id].label = c.note.empty() ? "" : "[" + c.note + "] ";
        }
        bool failed = false;
        std::size_t done = 0;
        while (done < cells.size())
        {
            auto received = kernel.receive(static_cast<int>(opts.timeout * 1000));
            if (!received)
            {
                std::cerr << "atrium-client: [client.timeout] no answer for " << opts.timeout << " s" << std::endl;
                return 2;
            }
            auto& [where, msg] = *received;
            auto found = cells.find(msg.parent_id());
            if (found == cells.end())
                continue;
            pending& c = found->second;
            bool was_done = c.replied && c.idle;
            const std::string type = msg.msg_type();
            if (where == channel::shell && type == "execute_reply")
            {
                c.replied = true;
                failed = failed || msg.content.value("status", "") != "ok";
            }
            else if (type == "stream")
            {
                print_lines(c, msg.content.value("name", "stdout"), msg.content.value("text", ""));
            }
            else if (type == "execute_result" || type == "display_data")
            {
                std::string text = msg.content["data"].value("text/plain", "");
                std::string prefix = type == "execute_result"
                                         ? "Out[" + msg.content.value("execution_count", nlohmann::json(0)).dump() + "]: "
                                         : "";
                print_lines(c, "stdout", prefix + text + "\n");
            }
            else if (type == "error")
            {
                print_lines(c, "stderr",
                            msg.content.value("ename", "") + ": " + msg.content.value("evalue", "") + "\n");
            }
            else if (type == "status" && msg.content.value("execution_state", "") == "idle")
            {
                c.idle = true;
            }
            if (!was_done && c.replied && c.idle)
            {
                flush_lines(c);
                ++done;
            }
        }
        return failed ? 1 : 0;
    }
}

int main(int argc, char* argv[])
{
    options opts;
    try
    {
        if (!parse(argc, argv, opts))
        {
            std::cerr << usage;
            return 2;
        }
    }
    catch (const std::exception&)
    {
        std::cerr << usage;
        return 2;
    }
    try
    {
        std::unique_ptr<atrium_client::kernel_launcher> launched;
        if (!opts.start.empty())
            launched = std::make_unique<atrium_client::kernel_launcher>(opts.start);
        atrium_client::kernel_connection kernel(launched ? launched->connection_file() : opts.connect);
        if (!kernel.wait_until_ready(static_cast<int>(opts.timeout * 1000)))
        {
            std::cerr << "atrium-client: [client.unreachable] the kernel did not answer kernel_info" << std::endl;
            return 2;
        }
        int status = run(kernel, opts);
        if (launched)
        {
            kernel.send("shutdown_request", {{"restart", false}}, nlohmann::json::object(), true);
            if (!launched->wait_for_exit(10))
                std::cerr << "atrium-client: the kernel did not exit when asked; killing it" << std::endl;
        }
        return status;
    }
    catch (const std::exception& e)
    {
        std::cerr << "atrium-client: " << e.what() << std::endl;
        return 2;
    }
}
