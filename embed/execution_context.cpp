// SPDX-License-Identifier: MIT
#include "embed/execution_context.hpp"

#include "embed/channel_scope.hpp"
#include "embed/interrupts.hpp"
#include "embed/traceback_format.hpp"

#include <pybind11/embed.h>
#include <pybind11_json/pybind11_json.hpp>

#include <atomic>

namespace py = pybind11;

namespace atrium
{
    namespace
    {
        std::vector<stack_frame> frames_of(const py::handle& frames)
        {
            std::vector<stack_frame> result;
            for (auto item : frames)
            {
                auto frame = item.cast<py::tuple>();
                result.push_back({frame[0].cast<std::string>(), frame[1].cast<int>(), frame[2].cast<std::string>(),
                                  frame[3].cast<std::string>(), frame[4].cast<int>()});
            }
            return result;
        }

        /// An interrupt that landed in the runtime's own code around the cell (its bookkeeping before or after
        /// the cell's code) rather than in the cell: the user interrupted the cell, and that is what they see.
        nlohmann::json interrupted_around_the_cell(output_channel& channel)
        {
            nlohmann::json traceback = format_traceback({}, "KeyboardInterrupt", "", false);
            channel.publish("error", {{"ename", "KeyboardInterrupt"}, {"evalue", ""}, {"traceback", traceback}});
            return {{"status", "error"}, {"ename", "KeyboardInterrupt"}, {"evalue", ""}, {"traceback", traceback}};
        }

        /// Errors raised by the kernel's own Python code (not the user's) become error replies too.
        nlohmann::json internal_error(const py::error_already_set& error)
        {
            return {{"status", "error"},
                    {"ename", "AtriumInternalError"},
                    {"evalue", error.what()},
                    {"traceback", nlohmann::json::array({std::string("[embed.internal] ") + error.what()})}};
        }
    }

    struct execution_context::impl
    {
        impl(output_sink& sink, bool main_module)
            : channel(sink)
        {
            py::gil_scoped_acquire gil;
            execution = py::module_::import("atrium_runtime.execution");
            completion = py::module_::import("atrium_runtime.completion");
            py::object module = execution.attr("new_namespace")("__main__");
            if (main_module)
            {
                py::module_::import("sys").attr("modules")["__main__"] = module;
            }
            state = execution.attr("new_context")(module);
            namespace_ = module.attr("__dict__");
            remember_channel(channel);
        }

        ~impl()
        {
            forget_channel(channel);
            py::gil_scoped_acquire gil;
            try
            {
                state.attr("close")(); // its IPython shell's event loop
            }
            catch (py::error_already_set&)
            {
            }
            state = py::object();
            namespace_ = py::object();
            execution = py::object();
            completion = py::object();
        }

        output_channel channel;
        int execution_count = 0;
        int unstored_cells = 0;
        std::atomic<unsigned long> running_thread{0}; ///< Python's id of the thread running a cell, or 0
        py::object execution;
        py::object completion;
        py::object state; ///< atrium_runtime.execution.Context: the namespace and, once needed, its IPython shell
        py::object namespace_;
    };

    execution_context::execution_context(output_sink& sink, bool main_module)
        : p_impl(std::make_unique<impl>(sink, main_module))
    {
    }

    execution_context::~execution_context() = default;

    nlohmann::json execution_context::execute(const std::string& code, const execute_options& options)
    {
        // ipykernel's numbering: only cells stored in history advance the count. Unstored cells still get a
        // filename of their own, so their source never replaces a stored cell's in tracebacks.
        int count = options.store_history ? ++p_impl->execution_count : p_impl->execution_count;
        std::string filename = options.store_history ? cell_filename(count)
                                                     : cell_filename(count, ++p_impl->unstored_cells);
        nlohmann::json reply;
        {
            channel_scope route(p_impl->channel);
            py::gil_scoped_acquire gil;
            try
            {
                py::dict result;
                {
                    interruptible_scope interruptible;
                    unsigned long thread = PyThread_get_thread_ident();
                    p_impl->running_thread.store(thread);
                    result = p_impl->execution.attr("run_cell")(p_impl->state, code, filename, count,
                                                                options.silent, options.store_history);
                    p_impl->running_thread.store(0);
                    // An interrupt that arrived as the cell ended must not fire in this thread's next cell.
                    PyThreadState_SetAsyncExc(thread, nullptr);
                }
                std::string status = result["status"].cast<std::string>();
                reply = {{"status", status}, {"execution_count", count}, {"payload", result["payload"]}};
                if (status == "error")
                {
                    std::string ename = result["ename"].cast<std::string>();
                    std::string evalue = result["evalue"].cast<std::string>();
                    reply["ename"] = ename;
                    reply["evalue"] = evalue;
                    if (result.contains("traceback"))
                    {
                        // Formatted and published by the context's IPython shell (colours, %xmode).
                        reply["traceback"] = result["traceback"].cast<nlohmann::json>();
                    }
                    else
                    {
                        // No IPython shell could be made: the kernel's own formatter.
                        auto traceback = format_traceback(frames_of(result["frames"]), ename, evalue,
                                                          result["syntax_error"].cast<bool>());
                        reply["traceback"] = traceback;
                        p_impl->channel.publish("error",
                                                {{"ename", ename}, {"evalue", evalue}, {"traceback", traceback}});
                    }
                }
                reply["user_expressions"] = nlohmann::json::object();
                if (!options.user_expressions.empty())
                {
                    reply["user_expressions"] = p_impl->execution
                                                    .attr("evaluate_user_expressions")(p_impl->namespace_,
                                                                                       options.user_expressions)
                                                    .cast<nlohmann::json>();
                }
            }
            catch (py::error_already_set& error)
            {
                reply = error.matches(PyExc_KeyboardInterrupt) ? interrupted_around_the_cell(p_impl->channel)
                                                               : internal_error(error);
                reply["execution_count"] = count;
                reply["user_expressions"] = nlohmann::json::object();
            }
        }
        // Everything printed by the cell, by Python or straight to fds 1 and 2, reaches iopub before the reply.
        {
            channel_scope route(p_impl->channel);
            drain_captured_output();
        }
        p_impl->channel.flush();
        if (!reply.contains("payload"))
        {
            reply["payload"] = nlohmann::json::array();
        }
        return reply;
    }

    std::optional<nlohmann::json> execution_context::answer_code_request(const std::string& msg_type,
                                                                         const nlohmann::json& content)
    {
        if (msg_type == "complete_request")
            return complete(content.value("code", ""), content.value("cursor_pos", -1));
        if (msg_type == "inspect_request")
            return inspect(content.value("code", ""), content.value("cursor_pos", -1), content.value("detail_level", 0));
        if (msg_type == "is_complete_request")
            return is_complete(content.value("code", ""));
        return std::nullopt;
    }

    nlohmann::json execution_context::complete(const std::string& code, int cursor_pos)
    {
        py::gil_scoped_acquire gil;
        try
        {
            return p_impl->completion.attr("complete")(code, cursor_pos, p_impl->namespace_).cast<nlohmann::json>();
        }
        catch (py::error_already_set& error)
        {
            return internal_error(error);
        }
    }

    nlohmann::json execution_context::inspect(const std::string& code, int cursor_pos, int detail_level)
    {
        py::gil_scoped_acquire gil;
        try
        {
            return p_impl->completion.attr("inspect")(code, cursor_pos, detail_level, p_impl->namespace_)
                .cast<nlohmann::json>();
        }
        catch (py::error_already_set& error)
        {
            return internal_error(error);
        }
    }

    nlohmann::json execution_context::is_complete(const std::string& code)
    {
        py::gil_scoped_acquire gil;
        try
        {
            return p_impl->completion.attr("is_complete")(code).cast<nlohmann::json>();
        }
        catch (py::error_already_set& error)
        {
            return internal_error(error);
        }
    }

    bool execution_context::interrupt()
    {
        py::gil_scoped_acquire gil;
        unsigned long thread = p_impl->running_thread.load();
        return thread != 0 && PyThreadState_SetAsyncExc(thread, PyExc_KeyboardInterrupt) > 0;
    }

    int execution_context::execution_count() const noexcept
    {
        return p_impl->execution_count;
    }

    output_channel& execution_context::channel() noexcept
    {
        return p_impl->channel;
    }
}
