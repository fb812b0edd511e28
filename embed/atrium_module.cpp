// SPDX-License-Identifier: MIT
// The `_atrium` module: the only door between Python code and the kernel's output, stdin and comms.
#include "embed/channel_scope.hpp"
#include "embed/comm_bridge.hpp"
#include "embed/kernel_services.hpp"
#include "embed/output_sink.hpp"
#include "embed/utf8.hpp"

#include <pybind11/embed.h>
#include <pybind11_json/pybind11_json.hpp>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <set>

namespace py = pybind11;

namespace atrium
{
    namespace
    {
        thread_local output_channel* t_channel = nullptr;
        /// Set in threads that adopted a cell's channel: that channel may be destroyed (context reset or culled)
        /// while the thread lives, so their writes check it is still alive.
        thread_local bool t_adopted = false;
        thread_local std::string t_user;
        thread_local bool t_per_user = false;
        std::atomic<output_channel*> g_latest{nullptr};
        std::mutex g_live_mutex;
        std::set<output_channel*> g_live; ///< channels that exist: a thread may only adopt one of these
        comm_bridge* g_comms = nullptr;
        kernel_caller g_kernel_caller; ///< set in isolated workers only
        kernel_magic_handler g_magic_handler; ///< set in the kernel process

        /// After a wait was interrupted: raises the KeyboardInterrupt the SIGINT handler prepared.
        [[noreturn]] void raise_keyboard_interrupt()
        {
            // The handler already tripped Python's flag: running it raises KeyboardInterrupt and clears the
            // flag, so the interrupt is not delivered a second time.
            if (PyErr_CheckSignals() == 0)
                PyErr_SetNone(PyExc_KeyboardInterrupt);
            throw py::error_already_set();
        }

        output_channel* current_channel()
        {
            return t_channel ? t_channel : g_latest.load();
        }

        /// Text of a `str` as UTF-8. Strings holding lone surrogates (undecodable bytes that Python
        /// smuggled in with surrogateescape) cannot be encoded strictly; they go through repair instead.
        std::string utf8_of(const py::handle& text)
        {
            Py_ssize_t size = 0;
            const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
            if (data)
            {
                return std::string(data, static_cast<std::size_t>(size));
            }
            PyErr_Clear();
            py::bytes raw = py::reinterpret_steal<py::bytes>(
                PyUnicode_AsEncodedString(text.ptr(), "utf-8", "surrogateescape"));
            if (!raw)
            {
                PyErr_Clear();
                return "\xEF\xBF\xBD";
            }
            return repair_utf8(std::string(raw));
        }

        void write_to_channel(const std::string& stream, std::string_view text)
        {
            if (t_adopted)
            {
                std::lock_guard<std::mutex> lock(g_live_mutex);
                if (g_live.count(t_channel))
                {
                    t_channel->write(stream, text);
                    return;
                }
                t_channel = nullptr;
                t_adopted = false;
            }
            if (output_channel* channel = current_channel())
            {
                channel->write(stream, text);
            }
            else
            {
                // No request has ever run (output during start-up): keep it visible in the kernel's log.
                // Never std::cout: fd 1 is captured, so the text would come straight back here.
                std::cerr << text;
            }
        }

        /// sys.stdout / sys.stderr replacement. Implemented in C++ so a print costs one call, not a
        /// Python-level method plus a C++ call.
        struct out_stream
        {
            std::string name;

            std::size_t write(const py::handle& text) const
            {
                if (!PyUnicode_Check(text.ptr()))
                {
                    throw py::type_error("write() argument must be str, not " +
                                         std::string(Py_TYPE(text.ptr())->tp_name));
                }
                std::string utf8 = utf8_of(text);
                write_to_channel(name, utf8);
                return static_cast<std::size_t>(PyUnicode_GetLength(text.ptr()));
            }
        };

        /// `sys.stdout.buffer`: bytes in, repaired to UTF-8.
        struct out_buffer
        {
            std::string name;

            std::size_t write(const py::buffer& data) const
            {
                py::buffer_info info = data.request();
                std::string_view bytes(static_cast<const char*>(info.ptr),
                                       static_cast<std::size_t>(info.size * info.itemsize));
                write_to_channel(name, repair_utf8(bytes));
                return bytes.size();
            }
        };

        comm_bridge& comms()
        {
            if (!g_comms)
                throw std::runtime_error("[comm.unavailable] comms are not available in this process");
            return *g_comms;
        }

        /// A cell's comm messages go through its channel: its request's parent header, after its prints.
        void publish_comm(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
        {
            if (t_channel)
                t_channel->publish(msg_type, std::move(content), std::move(metadata));
            else
                comms().publish(msg_type, std::move(content), std::move(metadata));
        }

        void flush_current()
        {
            if (output_channel* channel = current_channel())
                channel->flush();
        }

        void call_comm_manager(const char* method, py::args args)
        {
            py::gil_scoped_acquire gil;
            try
            {
                py::module_::import("atrium_runtime.comms").attr("manager").attr(method)(*args);
            }
            catch (py::error_already_set& error)
            {
                // A failing comm handler is the user's bug: show it like ipykernel does, keep serving.
                py::module_::import("traceback").attr("print_exception")(error.type(), error.value(),
                                                                         error.trace());
            }
        }
    }

    channel_scope::channel_scope(output_channel& channel)
        : p_previous(t_channel)
    {
        t_channel = &channel;
        g_latest.store(&channel);
    }

    channel_scope::~channel_scope()
    {
        t_channel = p_previous;
    }

    void set_thread_requester(const std::string& user, bool per_user)
    {
        t_user = user;
        t_per_user = per_user;
    }

    void write_output(const std::string& stream, std::string_view text)
    {
        write_to_channel(stream, text);
    }

    void remember_channel(output_channel& channel)
    {
        std::lock_guard<std::mutex> lock(g_live_mutex);
        g_live.insert(&channel);
    }

    void forget_channel(output_channel& channel)
    {
        {
            std::lock_guard<std::mutex> lock(g_live_mutex);
            g_live.erase(&channel);
        }
        output_channel* expected = &channel;
        g_latest.compare_exchange_strong(expected, nullptr);
    }

    void set_comm_bridge(comm_bridge* bridge)
    {
        g_comms = bridge;
    }

    void set_kernel_caller(kernel_caller caller)
    {
        g_kernel_caller = std::move(caller);
    }

    void set_kernel_magic_handler(kernel_magic_handler handler)
    {
        g_magic_handler = std::move(handler);
    }

    nlohmann::json serve_worker_call(const std::string& op, const nlohmann::json& args, std::string& blob)
    {
        if (op == "kernel.magic")
        {
            // Answered by the session manager itself, which knows every context (and takes no GIL here).
            blob.clear();
            try
            {
                if (!g_magic_handler)
                    throw std::runtime_error("[magic.unavailable] no session manager in this process");
                return {{"text", g_magic_handler(args.value("name", ""), args.value("argument", ""), t_user)}};
            }
            catch (const std::exception& e)
            {
                return {{"error", "RuntimeError"}, {"message", e.what()}};
            }
        }
        py::gil_scoped_acquire gil;
        try
        {
            py::tuple answer = py::module_::import("atrium_runtime.remote")
                                   .attr("serve")(op, py::cast(args), py::bytes(blob));
            nlohmann::json header = answer[0].cast<nlohmann::json>();
            blob = answer[1].cast<std::string>();
            return header;
        }
        catch (py::error_already_set& error)
        {
            blob.clear();
            return {{"error", "AtriumInternalError"}, {"message", std::string("[kernel.internal] ") + error.what()}};
        }
    }

    void deliver_comm_open(const std::string& target_name, const std::string& comm_id, const nlohmann::json& msg)
    {
        py::gil_scoped_acquire gil;
        call_comm_manager("_client_open", py::make_tuple(target_name, comm_id, py::object(py::cast(msg))));
    }

    void deliver_comm_msg(const std::string& comm_id, const nlohmann::json& msg)
    {
        py::gil_scoped_acquire gil;
        call_comm_manager("_client_msg", py::make_tuple(comm_id, py::object(py::cast(msg))));
    }

    void deliver_comm_close(const std::string& comm_id, const nlohmann::json& msg)
    {
        py::gil_scoped_acquire gil;
        call_comm_manager("_client_close", py::make_tuple(comm_id, py::object(py::cast(msg))));
    }
}

PYBIND11_EMBEDDED_MODULE(_atrium, m)
{
    using namespace atrium;

    py::class_<out_stream>(m, "OutStream")
        .def(py::init([](std::string name) { return out_stream{std::move(name)}; }))
        .def("write", &out_stream::write)
        .def("writelines",
             [](const out_stream& self, const py::iterable& lines)
             {
                 for (auto line : lines)
                     self.write(line);
             })
        .def("flush", [](const out_stream&) { flush_current(); })
        .def("isatty", [](const out_stream&) { return false; })
        .def("readable", [](const out_stream&) { return false; })
        .def("writable", [](const out_stream&) { return true; })
        .def("seekable", [](const out_stream&) { return false; })
        .def("fileno",
             [](const out_stream&) -> int
             { throw py::value_error("fileno: Atrium's output streams have no file descriptor"); })
        .def_property_readonly("name", [](const out_stream& self) { return "<" + self.name + ">"; })
        .def_property_readonly("encoding", [](const out_stream&) { return "utf-8"; })
        .def_property_readonly("errors", [](const out_stream&) { return "surrogateescape"; })
        .def_property_readonly("closed", [](const out_stream&) { return false; })
        .def_property_readonly("buffer", [](const out_stream& self) { return out_buffer{self.name}; });

    py::class_<out_buffer>(m, "OutBuffer")
        .def("write", &out_buffer::write)
        .def("flush", [](const out_buffer&) { flush_current(); });

    m.def("publish",
          [](const std::string& msg_type, const nlohmann::json& content)
          {
              if (output_channel* channel = current_channel())
                  channel->publish(msg_type, content, nlohmann::json::object());
          });

    m.def("flush", &flush_current);
    m.def("requester", [] { return py::make_tuple(t_user.empty() ? std::string("anonymous") : t_user, t_per_user); });

    // Handles let a thread started by a cell write to that cell's channel (see atrium_runtime.hooks).
    m.def("current_channel", [] { return reinterpret_cast<std::uintptr_t>(t_channel); });
    m.def("use_channel",
          [](std::uintptr_t handle)
          {
              auto* channel = reinterpret_cast<output_channel*>(handle);
              std::lock_guard<std::mutex> lock(g_live_mutex);
              // A context reset or culled since the thread started: its output falls back to the latest channel.
              t_channel = g_live.count(channel) ? channel : nullptr;
              t_adopted = t_channel != nullptr;
          });

    m.def("input",
          [](const std::string& prompt, bool password) -> py::object
          {
              output_channel* channel = current_channel();
              if (!channel)
                  return py::none();
              std::optional<std::string> answer;
              try
              {
                  py::gil_scoped_release release; // the client may take its time
                  answer = channel->request_input(prompt, password);
              }
              catch (const interrupted&)
              {
                  raise_keyboard_interrupt();
              }
              if (!answer)
                  return py::none();
              return py::str(*answer);
          });

    m.def("comm_open",
          [](const std::string& comm_id, const std::string& target, const nlohmann::json& data,
             const nlohmann::json& metadata)
          {
              comms().open(comm_id, target);
              publish_comm("comm_open", {{"comm_id", comm_id}, {"target_name", target}, {"data", data}}, metadata);
          });
    m.def("comm_send",
          [](const std::string& comm_id, const nlohmann::json& data, const nlohmann::json& metadata)
          {
              comms().check_open(comm_id);
              publish_comm("comm_msg", {{"comm_id", comm_id}, {"data", data}}, metadata);
          });
    m.def("comm_close",
          [](const std::string& comm_id, const nlohmann::json& data, const nlohmann::json& metadata)
          {
              comms().check_open(comm_id);
              publish_comm("comm_close", {{"comm_id", comm_id}, {"data", data}}, metadata);
              comms().close(comm_id);
          });
    m.def("in_worker", [] { return static_cast<bool>(g_kernel_caller); });
    m.def("kernel_call",
          [](const std::string& op, const nlohmann::json& args, const py::bytes& blob) -> py::tuple
          {
              if (!g_kernel_caller)
                  throw std::runtime_error("[worker.not_a_worker] kernel_call is for isolated workers");
              std::string data = blob;
              std::pair<nlohmann::json, std::string> answer;
              try
              {
                  py::gil_scoped_release release;
                  answer = g_kernel_caller(op, args, std::move(data));
              }
              catch (const interrupted&)
              {
                  raise_keyboard_interrupt();
              }
              return py::make_tuple(py::cast(answer.first), py::bytes(answer.second));
          });
    m.def("kernel_magic",
          [](const std::string& name, const std::string& argument) -> std::string
          {
              if (g_kernel_caller)
              {
                  std::pair<nlohmann::json, std::string> answer;
                  try
                  {
                      py::gil_scoped_release release;
                      answer = g_kernel_caller("kernel.magic", {{"name", name}, {"argument", argument}}, {});
                  }
                  catch (const interrupted&)
                  {
                      raise_keyboard_interrupt();
                  }
                  if (answer.first.contains("error"))
                      throw std::runtime_error(answer.first.value("message", "[magic.failed]"));
                  return answer.first.value("text", "");
              }
              if (!g_magic_handler)
                  throw std::runtime_error("[magic.unavailable] no session manager in this process");
              std::string user = t_user;
              py::gil_scoped_release release; // the handler locks the session manager's contexts
              return g_magic_handler(name, argument, user);
          });
    m.def("comm_register_target", [](const std::string& target) { comms().register_target(target); });
}
