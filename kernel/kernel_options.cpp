// SPDX-License-Identifier: MIT
#include "kernel/kernel_options.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>

namespace atrium
{
    namespace
    {
        struct binding_flag
        {
            const char* environment_variable;
            const char* expected; ///< for the missing-value message; null for a switch, which needs no value
        };

        const std::map<std::string, binding_flag> binding_flags = {
            {"--mode", {"ATRIUM_MODE", "shared, scoped or isolated"}},
            {"--scope", {"ATRIUM_SCOPE", "note or user"}},
            {"--cull-idle", {"ATRIUM_CULL_IDLE_SECONDS", "a number of seconds"}},
            {"--operator-view", {"ATRIUM_OPERATOR_VIEW", nullptr}},
        };

        /// Settings of contexts and workers: flag, environment variable, what is expected.
        struct worker_flag
        {
            const char* environment_variable;
            const char* expected;
        };

        const std::map<std::string, worker_flag> worker_flags = {
            {"--worker-memory", {"ATRIUM_WORKER_MEMORY", "a size such as 512M or 2G"}},
            {"--worker-cpu-seconds", {"ATRIUM_WORKER_CPU_SECONDS", "a number of seconds"}},
            {"--warm-workers", {"ATRIUM_WARM_WORKERS", "a number of workers, 0 to 64"}},
            {"--max-contexts", {"ATRIUM_MAX_CONTEXTS", "a number of contexts, 1 to 1000000"}},
            {"--max-workers", {"ATRIUM_MAX_WORKERS", "a number of workers, 1 to 65536"}},
            {"--reclaim-idle-workers", {"ATRIUM_RECLAIM_IDLE_WORKERS", "a number of seconds (0: never)"}},
            {"--preload", {"ATRIUM_PRELOAD", "module names separated by commas, or none"}},
        };

        std::uint64_t parse_count(const std::string& text, const std::string& flag, std::uint64_t most,
                                  std::uint64_t least = 0)
        {
            std::size_t used = 0;
            unsigned long long value = 0;
            try
            {
                value = std::stoull(text, &used);
            }
            catch (const std::exception&)
            {
                used = 0;
            }
            if (used == 0 || used != text.size() || text[0] == '-' || value > most || value < least)
                throw usage_error("[options.bad_value] '" + text + "' in " + flag + ": expected " +
                                  worker_flags.at(flag).expected);
            return value;
        }

        /// `--host-linger`: seconds (at most a year), or `never` (-1).
        int parse_linger(const std::string& text)
        {
            if (text == "never")
                return -1;
            std::size_t used = 0;
            long value = -1;
            try
            {
                value = std::stol(text, &used);
            }
            catch (const std::exception&)
            {
                used = 0;
            }
            if (used == 0 || used != text.size() || value < 0 || value > 365L * 24 * 3600)
                throw usage_error("[options.bad_value] '" + text +
                                  "' in --host-linger: expected a number of seconds, or never");
            return static_cast<int>(value);
        }

        void apply_worker_flag(worker_settings& workers, const std::string& flag, const std::string& value)
        {
            if (flag == "--worker-memory")
                workers.memory_bytes = parse_size(value, flag);
            else if (flag == "--worker-cpu-seconds")
                workers.cpu_seconds = parse_count(value, flag, 365ULL * 24 * 3600);
            else if (flag == "--max-contexts")
                workers.max_contexts = parse_count(value, flag, 1000000, 1);
            else if (flag == "--max-workers")
                workers.max_workers = parse_count(value, flag, 65536, 1);
            else if (flag == "--preload")
            {
                workers.preload = value; // checked by the template, which logs why and is not used when it fails
                workers.preload_given = true;
            }
            else if (flag == "--reclaim-idle-workers")
                workers.idle_worker_seconds = parse_count(value, flag, 365ULL * 24 * 3600);
            else
                workers.warm = parse_count(value, flag, 64);
        }

        bool starts_with(const std::string& text, const std::string& prefix)
        {
            return text.compare(0, prefix.size(), prefix) == 0;
        }

        void apply_binding_flag(binding_config& binding, const std::string& flag, const std::string& value)
        {
            try
            {
                if (flag == "--mode")
                {
                    binding.mode = parse_mode(value);
                }
                else if (flag == "--scope")
                {
                    binding.scope = parse_scope(value);
                }
                else if (flag == "--cull-idle")
                {
                    binding.cull_idle_after = parse_cull_seconds(value);
                }
                else
                {
                    binding.operator_view = parse_operator_view(value);
                }
            }
            catch (const binding_error& e)
            {
                throw usage_error(std::string(e.what()) + " in " + flag);
            }
        }
    }

    kernel_options parse_kernel_options(const std::vector<std::string>& args,
                                        const getenv_function& getenv_fn)
    {
        kernel_options options;
        // The last value given for each binding flag, applied over the environment below.
        std::map<std::string, std::string> flags;
        for (std::size_t i = 0; i < args.size(); ++i)
        {
            const std::string& arg = args[i];
            const std::string long_prefix = "--connection-file=";
            const auto equals = arg.find('=');
            const std::string name = arg.substr(0, equals);
            if (arg == "-h" || arg == "--help")
            {
                options.show_help = true;
            }
            else if (arg == "--version")
            {
                options.show_version = true;
            }
            else if (arg == "-f" || arg == "--connection-file")
            {
                if (i + 1 >= args.size() || args[i + 1].empty())
                {
                    throw usage_error("[options.missing_value] " + arg + " needs a connection file path");
                }
                options.connection_file = args[++i];
            }
            else if (starts_with(arg, long_prefix))
            {
                options.connection_file = arg.substr(long_prefix.size());
                if (options.connection_file.empty())
                {
                    throw usage_error("[options.missing_value] --connection-file= needs a path");
                }
            }
            else if (arg == "--host")
            {
                options.host = true;
            }
            else if (name == "--host-socket" || name == "--host-linger")
            {
                std::string value = equals != std::string::npos ? arg.substr(equals + 1)
                                    : i + 1 < args.size()      ? args[++i]
                                                               : std::string();
                if (value.empty())
                    throw usage_error("[options.missing_value] " + name + " needs a value (" +
                                      (name == "--host-socket" ? "a path" : "a number of seconds, or never") + ")");
                if (name == "--host-socket")
                    options.host_socket = value;
                else
                    options.host_linger_seconds = parse_linger(value);
            }
            else if (name == "--dask-scheduler")
            {
                options.dask_scheduler = equals != std::string::npos ? arg.substr(equals + 1)
                                         : i + 1 < args.size()      ? args[++i]
                                                                    : std::string();
                if (options.dask_scheduler.empty())
                {
                    throw usage_error("[options.missing_value] --dask-scheduler needs an address (tcp://host:port)");
                }
            }
            else if (worker_flags.count(name) != 0)
            {
                std::string value = equals != std::string::npos ? arg.substr(equals + 1)
                                    : i + 1 < args.size()      ? args[++i]
                                                               : std::string();
                if (value.empty())
                {
                    throw usage_error("[options.missing_value] " + name + " needs a value (" +
                                      worker_flags.at(name).expected + ")");
                }
                flags[name] = value;
            }
            else if (binding_flags.count(name) != 0 && binding_flags.at(name).expected == nullptr)
            {
                flags[name] = equals == std::string::npos ? "yes" : arg.substr(equals + 1);
            }
            else if (binding_flags.count(name) != 0)
            {
                std::string value;
                if (equals != std::string::npos)
                {
                    value = arg.substr(equals + 1);
                }
                else if (i + 1 < args.size())
                {
                    value = args[++i];
                }
                if (value.empty())
                {
                    throw usage_error("[options.missing_value] " + name + " needs a value (" +
                                      binding_flags.at(name).expected + ")");
                }
                flags[name] = value;
            }
            else
            {
                throw usage_error("[options.unknown] unknown argument '" + arg + "'");
            }
        }
        if (options.host && !options.connection_file.empty())
        {
            throw usage_error("[options.host_with_connection_file] --host serves fronts opened through its control "
                              "socket; it takes no connection file");
        }
        if (options.host && options.host_socket.empty() && !options.show_help && !options.show_version)
        {
            throw usage_error("[options.missing_host_socket] --host needs --host-socket PATH");
        }
        if (!options.host && (!options.host_socket.empty()))
        {
            throw usage_error("[options.host_socket_without_host] --host-socket is for --host");
        }
        if (options.connection_file.empty() && !options.host && !options.show_help && !options.show_version)
        {
            throw usage_error("[options.missing_connection_file] a connection file is required (-f FILE)");
        }

        // A variable a flag overrides is not read at all, so a bad value there cannot stop the kernel.
        auto unless_overridden = [&](const char* variable) -> const char*
        {
            for (const auto& [flag, described] : binding_flags)
            {
                if (std::strcmp(described.environment_variable, variable) == 0 && flags.count(flag) != 0)
                {
                    return nullptr;
                }
            }
            return getenv_fn(variable);
        };
        try
        {
            options.binding = binding_from_environment(unless_overridden);
        }
        catch (const binding_error& e)
        {
            if (!options.show_help && !options.show_version)
            {
                throw usage_error(e.what());
            }
        }
        for (const auto& [flag, described] : worker_flags)
        {
            const char* from_environment = getenv_fn(described.environment_variable);
            if (flags.count(flag) == 0 && from_environment && *from_environment)
                flags[flag] = from_environment;
        }
        for (const auto& [flag, value] : flags)
        {
            if (worker_flags.count(flag) != 0)
            {
                try
                {
                    apply_worker_flag(options.workers, flag, value);
                }
                catch (const usage_error&)
                {
                    if (!options.show_help && !options.show_version)
                        throw;
                }
            }
            else
                apply_binding_flag(options.binding, flag, value);
        }
        if (options.host && options.binding.mode == binding_mode::shared && !options.show_help && !options.show_version)
        {
            // A shared context runs cells on the main thread, which also relays every front.
            throw usage_error("[options.host_needs_contexts] --host serves a context per front: give --mode=scoped or "
                              "--mode=isolated");
        }
        return options;
    }

    std::uint64_t parse_size(const std::string& text, const std::string& flag)
    {
        static const std::string suffixes = "KMGT";
        std::size_t used = 0;
        double number = -1;
        try
        {
            number = std::stod(text, &used);
        }
        catch (const std::exception&)
        {
            used = 0;
        }
        std::string rest = text.substr(used);
        if (!rest.empty() && (rest.back() == 'B' || rest.back() == 'b'))
            rest.pop_back();
        std::size_t power = 0;
        if (rest.size() == 1 && suffixes.find(static_cast<char>(std::toupper(rest[0]))) != std::string::npos)
            power = suffixes.find(static_cast<char>(std::toupper(rest[0]))) + 1;
        else if (!rest.empty())
            used = 0;
        double bytes = number;
        for (std::size_t i = 0; i < power; ++i)
            bytes *= 1024;
        if (used == 0 || number < 0 || bytes >= 1.8e19 || (bytes > 0 && bytes < 64 * 1024 * 1024))
            throw usage_error("[options.bad_value] '" + text + "' in " + flag +
                              ": expected a size such as 512M or 2G, at least 64M (0 for no limit)");
        return static_cast<std::uint64_t>(bytes);
    }

    kernel_options parse_kernel_options(const std::vector<std::string>& args)
    {
        return parse_kernel_options(args, [](const char* name) -> const char* { return std::getenv(name); });
    }

    std::string usage_text()
    {
        return "usage: atrium -f CONNECTION_FILE [--mode MODE] [--scope SCOPE] [--cull-idle SECONDS]\n"
               "              [--operator-view]\n"
               "       atrium --host --host-socket PATH [--host-linger SECONDS|never] [--mode MODE] ...\n"
               "  Atrium, a Jupyter kernel for Python. Normally started by a Jupyter client from its\n"
               "  kernelspec.\n"
               "  -f, --connection-file FILE   Jupyter connection file (ports, key, signature scheme)\n"
               "  --mode MODE                  how requests share interpreters: shared (one namespace and\n"
               "                               queue for everyone; the default), scoped (a namespace per\n"
               "                               note or user in this process) or isolated (a process per\n"
               "                               note or user)\n"
               "  --scope SCOPE                what a scoped or isolated context belongs to: note (the\n"
               "                               default) or user\n"
               "  --cull-idle SECONDS          drop contexts idle this long; 0 (the default) never does\n"
               "  --dask-scheduler ADDRESS     ctx connects to this Dask scheduler instead of a local cluster\n"
               "  --operator-view[=yes|no]     %contexts lists every context, even in per-user modes\n"
               "  --worker-memory SIZE         isolated mode: each worker's address-space limit (512M, 2G)\n"
               "  --worker-cpu-seconds N       isolated mode: each worker's CPU-time limit\n"
               "  --warm-workers N             isolated mode: workers kept started for new notes (1)\n"
               "  --max-contexts N             contexts kept at most (4096); at the cap the least recently\n"
               "                               used idle note without a name is reclaimed\n"
               "  --max-workers N              isolated mode: worker processes at most (128)\n"
               "  --reclaim-idle-workers SECONDS  isolated mode: end the worker of a note without a name\n"
               "                               after this long idle (3600; 0 never)\n"
               "  --preload MODULES            isolated mode: workers are forked from a template that has\n"
               "                               imported these (numpy,pandas); none: spawn each worker\n"
               "  --host                       host mode: one long-lived kernel serving many fronts, opened\n"
               "                               through the control socket (docs/host.md)\n"
               "  --host-socket PATH           host mode: the control socket (a unix socket, mode 0600)\n"
               "  --host-linger SECONDS        host mode: stay up this long with no front open (60), or never\n"
               "  --version                    print the version and exit\n"
               "  -h, --help                   print this help and exit\n"
               "  Flags may also be written --flag=VALUE. A flag not given is read from its environment\n"
               "  variable: ATRIUM_MODE, ATRIUM_SCOPE, ATRIUM_CULL_IDLE_SECONDS, ATRIUM_OPERATOR_VIEW\n"
               "  (1/true/yes or 0/false/no), ATRIUM_WORKER_MEMORY, ATRIUM_WORKER_CPU_SECONDS,\n"
               "  ATRIUM_WARM_WORKERS, ATRIUM_MAX_CONTEXTS, ATRIUM_MAX_WORKERS, ATRIUM_RECLAIM_IDLE_WORKERS,\n"
               "  ATRIUM_PRELOAD.\n";
    }
}
