// SPDX-License-Identifier: MIT
#include "kernel/kernel_options.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace atrium;
using namespace std::chrono_literals;

namespace
{
    using variables = std::map<std::string, std::string>;

    kernel_options parse(const std::vector<std::string>& args, variables env = {})
    {
        return parse_kernel_options(args,
                                    [env = std::move(env)](const char* name) -> const char*
                                    {
                                        auto found = env.find(name);
                                        return found == env.end() ? nullptr : found->second.c_str();
                                    });
    }
}

TEST_CASE("binding flags on the command line")
{
    SECTION("without flags or variables the kernel is shared")
    {
        auto options = parse({"-f", "k.json"});
        CHECK(options.connection_file == "k.json");
        CHECK(options.binding.mode == binding_mode::shared);
        CHECK(options.binding.scope == binding_scope::note);
        CHECK(options.binding.cull_idle_after == 0ms);
        CHECK_FALSE(options.binding.operator_view);
    }
    SECTION("flags take their value after '=' or as the next argument")
    {
        auto options = parse(
            {"--mode=scoped", "--scope", "user", "-f", "k.json", "--cull-idle", "30", "--operator-view"});
        CHECK(options.connection_file == "k.json");
        CHECK(options.binding.mode == binding_mode::scoped);
        CHECK(options.binding.scope == binding_scope::user);
        CHECK(options.binding.cull_idle_after == 30s);
        CHECK(options.binding.operator_view);
        CHECK(parse({"-f", "k", "--mode", "isolated", "--cull-idle=0.5"}).binding.cull_idle_after == 500ms);
        CHECK_FALSE(parse({"-f", "k", "--operator-view=no"}).binding.operator_view);
    }
    SECTION("the last of a repeated flag wins")
    {
        CHECK(parse({"-f", "k", "--mode=scoped", "--mode=shared"}).binding.mode == binding_mode::shared);
    }
    SECTION("environment variables fill in what no flag sets")
    {
        auto options =
            parse({"-f", "k", "--mode=isolated"},
                  {{"ATRIUM_MODE", "scoped"}, {"ATRIUM_SCOPE", "user"}, {"ATRIUM_OPERATOR_VIEW", "1"}});
        CHECK(options.binding.mode == binding_mode::isolated);
        CHECK(options.binding.scope == binding_scope::user);
        CHECK(options.binding.operator_view);
        CHECK_FALSE(parse({"-f", "k", "--operator-view=false"}, {{"ATRIUM_OPERATOR_VIEW", "true"}})
                        .binding.operator_view);
    }
    SECTION("a bad variable stops the kernel unless a flag overrides it")
    {
        CHECK_THROWS_AS(parse({"-f", "k"}, {{"ATRIUM_MODE", "foo"}}), usage_error);
        CHECK_THROWS_WITH(parse({"-f", "k"}, {{"ATRIUM_MODE", "foo"}}),
                          Catch::StartsWith("[binding.bad_mode]") && Catch::Contains("ATRIUM_MODE"));
        CHECK(parse({"-f", "k", "--mode", "scoped"}, {{"ATRIUM_MODE", "foo"}}).binding.mode ==
              binding_mode::scoped);
        CHECK(parse({"-f", "k", "--cull-idle=5"}, {{"ATRIUM_CULL_IDLE_SECONDS", "soon"}})
                  .binding.cull_idle_after == 5s);
    }
    SECTION("--help and --version work whatever the environment holds")
    {
        CHECK(parse({"--help"}, {{"ATRIUM_MODE", "foo"}}).show_help);
        CHECK(parse({"--version"}, {{"ATRIUM_CULL_IDLE_SECONDS", "-1"}}).show_version);
    }
    SECTION("bad flag values carry the binding error id and the flag")
    {
        CHECK_THROWS_AS(parse({"-f", "k", "--mode=foo"}), usage_error);
        CHECK_THROWS_WITH(
            parse({"-f", "k", "--mode=foo"}),
            "[binding.bad_mode] unknown mode 'foo' (expected shared, scoped or isolated) in --mode");
        CHECK_THROWS_WITH(parse({"-f", "k", "--scope", "team"}), Catch::StartsWith("[binding.bad_scope]"));
        CHECK_THROWS_WITH(parse({"-f", "k", "--cull-idle=-1"}),
                          Catch::StartsWith("[binding.bad_cull]") && Catch::EndsWith("in --cull-idle"));
        CHECK_THROWS_WITH(parse({"-f", "k", "--operator-view=maybe"}),
                          Catch::StartsWith("[binding.bad_operator_view]"));
        CHECK_THROWS_WITH(parse({"--help", "--mode=foo"}), Catch::StartsWith("[binding.bad_mode]"));
    }
    SECTION("a flag without its value")
    {
        CHECK_THROWS_WITH(parse({"-f", "k", "--mode"}),
                          "[options.missing_value] --mode needs a value (shared, scoped or isolated)");
        CHECK_THROWS_WITH(parse({"-f", "k", "--scope="}),
                          Catch::StartsWith("[options.missing_value] --scope"));
        CHECK_THROWS_WITH(parse({"-f", "k", "--cull-idle"}), Catch::Contains("a number of seconds"));
        CHECK_THROWS_WITH(parse({"-f", "k", "--mode", "--scope"}), Catch::StartsWith("[binding.bad_mode]"));
    }
    SECTION("look-alike flags are still unknown")
    {
        CHECK_THROWS_WITH(parse({"-f", "k", "--modes=shared"}),
                          Catch::Contains("unknown argument '--modes=shared'"));
        CHECK_THROWS_WITH(parse({"-f", "k", "--operator-viewer"}), Catch::Contains("unknown argument"));
    }
    SECTION("the usage text lists the binding flags")
    {
        for (const char* flag : {"--mode", "--scope", "--cull-idle", "--operator-view", "ATRIUM_MODE"})
        {
            CHECK_THAT(usage_text(), Catch::Contains(flag));
        }
    }
}

TEST_CASE("worker flags for isolated mode")
{
    SECTION("defaults: no limits, one warm worker")
    {
        auto options = parse({"-f", "k.json"});
        CHECK(options.workers.memory_bytes == 0);
        CHECK(options.workers.cpu_seconds == 0);
        CHECK(options.workers.warm == 1);
    }
    SECTION("sizes take K/M/G/T suffixes, flags win over variables")
    {
        auto options = parse({"-f", "k.json", "--worker-memory=1.5G", "--warm-workers", "3"},
                             {{"ATRIUM_WORKER_MEMORY", "512M"}, {"ATRIUM_WORKER_CPU_SECONDS", "30"},
                              {"ATRIUM_WARM_WORKERS", "9"}});
        CHECK(options.workers.memory_bytes == 1536ULL * 1024 * 1024);
        CHECK(options.workers.cpu_seconds == 30);
        CHECK(options.workers.warm == 3);
        CHECK(parse({"-f", "k.json"}, {{"ATRIUM_WORKER_MEMORY", "512MB"}}).workers.memory_bytes == 512ULL << 20);
        CHECK(parse({"-f", "k.json", "--worker-memory=0"}).workers.memory_bytes == 0);
    }
    SECTION("bad values are refused with the flag's name")
    {
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--worker-memory=lots"}),
                          Catch::Contains("[options.bad_value]") && Catch::Contains("--worker-memory"));
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--worker-memory=1M"}), Catch::Contains("at least 64M"));
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--warm-workers=65"}), Catch::Contains("0 to 64"));
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--worker-cpu-seconds=-1"}), Catch::Contains("--worker-cpu-seconds"));
        CHECK_THROWS_WITH(parse({"-f", "k.json"}, {{"ATRIUM_WARM_WORKERS", "two"}}),
                          Catch::Contains("--warm-workers"));
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--warm-workers"}), Catch::Contains("[options.missing_value]"));
    }
    SECTION("preload: numpy and pandas if installed by default, else what ATRIUM_PRELOAD or --preload names")
    {
        auto defaults = parse({"-f", "k.json"});
        CHECK(defaults.workers.preload == "numpy,pandas");
        CHECK_FALSE(defaults.workers.preload_given);
        auto from_environment = parse({"-f", "k.json"}, {{"ATRIUM_PRELOAD", "scipy"}});
        CHECK(from_environment.workers.preload == "scipy");
        CHECK(from_environment.workers.preload_given);
        CHECK(parse({"-f", "k.json", "--preload=none"}, {{"ATRIUM_PRELOAD", "scipy"}}).workers.preload == "none");
        CHECK_THROWS_WITH(parse({"-f", "k.json", "--preload"}), Catch::Contains("[options.missing_value]"));
    }
}
