// SPDX-License-Identifier: MIT
#include "embed/python_runtime.hpp"

#include "embed/channel_scope.hpp"
#include "embed/fd_capture.hpp"
#include "embed/interrupts.hpp"
#include "embed/runtime_sources.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <pybind11_json/pybind11_json.hpp>

#include <signal.h>
#include <unistd.h>

#include <ext/stdio_filebuf.h>
#include <iostream>

#include <cstdlib>
#include <optional>
#include <stdexcept>

namespace py = pybind11;

#ifndef ATRIUM_DEFAULT_PYTHON
#define ATRIUM_DEFAULT_PYTHON "/usr/bin/python3"
#endif

namespace atrium
{
    namespace
    {
        bool executable_exists(const std::string& path)
        {
            return ::access(path.c_str(), X_OK) == 0;
        }

        void load_runtime_modules()
        {
            py::module_ types = py::module_::import("types");
            py::dict modules = py::module_::import("sys").attr("modules");
            py::object builtins = py::module_::import("builtins");
            for (const runtime_source& source : runtime_sources())
            {
                py::object module = types.attr("ModuleType")(source.module_name);
                if (source.is_package)
                    module.attr("__path__") = py::list();
                modules[py::str(source.module_name)] = module;
                // Compiled under a "<atrium-runtime..." name so tracebacks can hide these frames.
                py::object code = builtins.attr("compile")(source.text, std::string("<atrium-runtime/") +
                                                                            source.module_name + ">",
                                                           "exec");
                builtins.attr("exec")(code, module.attr("__dict__"));
            }
        }

        std::vector<std::string> g_arguments{""};

        void install_io()
        {
            py::module_ sys = py::module_::import("sys");
            py::module_ atrium_module = py::module_::import("_atrium");
            sys.attr("stdout") = atrium_module.attr("OutStream")("stdout");
            sys.attr("stderr") = atrium_module.attr("OutStream")("stderr");
            sys.attr("argv") = py::cast(g_arguments);
            py::module_::import("atrium_runtime.display").attr("install")();
            py::module_::import("atrium_runtime.stdin").attr("install")();
            py::module_::import("atrium_runtime.execution").attr("install")();
            py::module_::import("atrium_runtime.pool").attr("install")();
            py::module_::import("atrium_runtime.compute").attr("install")();
            py::module_::import("atrium_runtime.remote").attr("install")();
            py::module_::import("atrium_runtime.hooks").attr("install")();
            py::module_::import("atrium_runtime.shell").attr("install")();
        }

        nlohmann::json read_language_info()
        {
            // sys.version_info, not the platform module: importing platform costs milliseconds at start-up.
            py::object info = py::module_::import("sys").attr("version_info");
            std::string major = py::str(info.attr("major"));
            std::string version = major + "." + std::string(py::str(info.attr("minor"))) + "." +
                                  std::string(py::str(info.attr("micro")));
            return {{"name", "python"},
                    {"version", version},
                    {"mimetype", "text/x-python"},
                    {"file_extension", ".py"},
                    {"pygments_lexer", "ipython" + major},
                    {"codemirror_mode", {{"name", "ipython"}, {"version", std::stoi(major)}}},
                    {"nbconvert_exporter", "python"}};
        }
    }

    namespace
    {
        fd_capture* g_capture = nullptr;
    }

    void drain_captured_output()
    {
        if (g_capture)
            g_capture->drain();
    }

    struct python_runtime::impl
    {
        std::unique_ptr<fd_capture> capture;
        std::unique_ptr<__gnu_cxx::stdio_filebuf<char>> log_buffer; ///< std::cerr on the original stderr
        std::streambuf* previous_cerr = nullptr;
        std::optional<py::scoped_interpreter> interpreter;
        std::optional<py::gil_scoped_release> released;
        nlohmann::json language_info;
        std::string banner;
    };

    python_runtime::python_runtime(const std::string& python_executable, bool capture)
        : p_impl(std::make_unique<impl>())
    {
        if (capture)
            capture_output();

        PyConfig config;
        PyConfig_InitPythonConfig(&config);
        config.parse_argv = 0;
        config.install_signal_handlers = 1;
        // The program name decides sys.executable and, through pyvenv.cfg, sys.prefix and site-packages:
        // naming the environment's own python makes its packages importable exactly as there.
        PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, python_executable.c_str());
        if (PyStatus_Exception(status))
        {
            PyConfig_Clear(&config);
            throw std::runtime_error("[python.config] cannot use '" + python_executable + "' as the interpreter");
        }
        p_impl->interpreter.emplace(&config, 0, nullptr, false); // takes ownership of (and clears) config

        // A launcher that ignored SIGINT (a server started in a script's background) passes SIG_IGN on, and
        // Python then leaves SIGINT ignored: PyErr_SetInterruptEx drops signals Python does not handle, so no
        // interrupt would ever reach a cell. ipykernel installs its handler regardless; so does Atrium, one that
        // keeps importlib's locks safe (interrupts.hpp). Then the process's own SIGINT handler replaces Python's.
        py::module_::import("signal").attr("signal")(SIGINT,
                                                     py::reinterpret_steal<py::object>(new_python_interrupt_handler()));
        install_interrupt_handler();
        try
        {
            load_runtime_modules();
            install_io();
            p_impl->language_info = read_language_info();
            p_impl->banner = "Atrium " ATRIUM_VERSION " -- Python " +
                             p_impl->language_info["version"].get<std::string>() +
                             " in a shared, session-aware kernel\n" +
                             py::str(py::module_::import("sys").attr("version")).cast<std::string>();
        }
        catch (py::error_already_set& error)
        {
            // Converted (and the Python exception released) while the interpreter is still alive.
            std::string message = std::string("[python.runtime] ") + error.what();
            error.restore();
            PyErr_Clear();
            throw std::runtime_error(message);
        }
    }

    python_runtime::~python_runtime()
    {
        p_impl->released.reset();
        p_impl->interpreter.reset();
        g_capture = nullptr;
        if (p_impl->log_buffer)
            std::cerr.rdbuf(p_impl->previous_cerr);
        p_impl->capture.reset();
    }

    void python_runtime::capture_output()
    {
        if (p_impl->capture)
            return;
        // From here on fds 1 and 2 lead to the current cell's output; the kernel's log keeps the real stderr.
        p_impl->capture = std::make_unique<fd_capture>(
            [](const std::string& stream, std::string text) { write_output(stream, text); });
        g_capture = p_impl->capture.get();
        p_impl->log_buffer = std::make_unique<__gnu_cxx::stdio_filebuf<char>>(p_impl->capture->log_fd(), std::ios::out);
        p_impl->previous_cerr = std::cerr.rdbuf(p_impl->log_buffer.get());
    }

    const nlohmann::json& python_runtime::language_info() const
    {
        return p_impl->language_info;
    }

    const std::string& python_runtime::banner() const
    {
        return p_impl->banner;
    }

    void python_runtime::release_gil()
    {
        p_impl->released.emplace();
    }

    void python_runtime::run_exit_hooks()
    {
        py::gil_scoped_acquire gil;
        try
        {
            py::module_::import("atexit").attr("_run_exitfuncs")();
        }
        catch (py::error_already_set&)
        {
            PyErr_Clear();
        }
    }

    void set_program_arguments(std::vector<std::string> arguments)
    {
        g_arguments = arguments.empty() ? std::vector<std::string>{""} : std::move(arguments);
    }

    std::string describe_compute()
    {
        py::gil_scoped_acquire gil;
        try
        {
            return py::module_::import("atrium_runtime.compute").attr("describe")().cast<std::string>();
        }
        catch (py::error_already_set& error)
        {
            return std::string("compute: unknown (") + error.what() + ")";
        }
    }

    void with_gil(const std::function<void()>& work)
    {
        pybind11::gil_scoped_acquire gil;
        work();
    }

    std::string own_directory()
    {
        char buffer[4096];
        ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
        if (length <= 0)
            return {};
        std::string path(buffer, static_cast<std::size_t>(length));
        return path.substr(0, path.rfind('/'));
    }

    int log_fd()
    {
        return g_capture ? g_capture->log_fd() : 2;
    }

    std::string default_python_executable()
    {
        if (const char* configured = std::getenv("ATRIUM_PYTHON"); configured && *configured)
        {
            return configured;
        }
        std::string beside = own_directory() + "/python3";
        if (executable_exists(beside))
        {
            return beside;
        }
        return ATRIUM_DEFAULT_PYTHON;
    }
}
