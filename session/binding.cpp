// SPDX-License-Identifier: MIT
#include "session/binding.hpp"

#include <algorithm>
#include <cctype>

namespace atrium
{
    namespace
    {
        std::string lower(std::string text)
        {
            std::transform(text.begin(), text.end(), text.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            return text;
        }

        // Up to 999999999 s (31 years): longer than any kernel lives, and the count of ms cannot overflow.
        constexpr std::size_t max_cull_digits = 9;

        template <typename Parse>
        void read_variable(const getenv_function& getenv_fn, const char* name, Parse parse)
        {
            const char* value = getenv_fn(name);
            if (value == nullptr || *value == '\0')
            {
                return;
            }
            try
            {
                parse(std::string(value));
            }
            catch (const binding_error& e)
            {
                throw binding_error(std::string(e.what()) + " in " + name);
            }
        }
    }

    bool is_per_user(const binding_config& config) noexcept
    {
        return config.mode != binding_mode::shared && config.scope == binding_scope::user;
    }

    binding_mode parse_mode(const std::string& text)
    {
        const std::string value = lower(text);
        if (value == "shared")
        {
            return binding_mode::shared;
        }
        if (value == "scoped")
        {
            return binding_mode::scoped;
        }
        if (value == "isolated")
        {
            return binding_mode::isolated;
        }
        throw binding_error("[binding.bad_mode] unknown mode '" + text +
                            "' (expected shared, scoped or isolated)");
    }

    binding_scope parse_scope(const std::string& text)
    {
        const std::string value = lower(text);
        if (value == "note")
        {
            return binding_scope::note;
        }
        if (value == "user")
        {
            return binding_scope::user;
        }
        throw binding_error("[binding.bad_scope] unknown scope '" + text + "' (expected note or user)");
    }

    std::chrono::milliseconds parse_cull_seconds(const std::string& text)
    {
        // Parsed by hand: strtod would follow the C locale's decimal point and also take "inf", "1e3",
        // "0x10" and leading spaces.
        const auto point = text.find('.');
        const std::string whole = text.substr(0, point);
        const std::string fraction = point == std::string::npos ? std::string() : text.substr(point + 1);
        auto digits = [](const std::string& s)
        { return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; }); };
        if (whole.size() + fraction.size() == 0 || !digits(whole) || !digits(fraction) ||
            whole.size() - std::min(whole.find_first_not_of('0'), whole.size()) > max_cull_digits)
        {
            throw binding_error("[binding.bad_cull] idle cull period '" + text +
                                "' is not a non-negative number of seconds (0 = never cull)");
        }
        long long ms =
            (whole.empty() ? 0 : std::stoll(whole) * 1000) + std::stoll((fraction + "000").substr(0, 3));
        // Round up: a positive period that rounded down to 0 ms would silently mean "never".
        if (fraction.size() > 3 && fraction.find_first_not_of('0', 3) != std::string::npos)
        {
            ++ms;
        }
        return std::chrono::milliseconds(ms);
    }

    bool parse_operator_view(const std::string& text)
    {
        const std::string value = lower(text);
        if (value == "1" || value == "true" || value == "yes")
        {
            return true;
        }
        if (value == "0" || value == "false" || value == "no")
        {
            return false;
        }
        throw binding_error("[binding.bad_operator_view] operator view '" + text +
                            "' is not a yes/no value (expected 1, true, yes, 0, false or no)");
    }

    std::string to_string(binding_mode mode)
    {
        switch (mode)
        {
        case binding_mode::shared:
            return "shared";
        case binding_mode::scoped:
            return "scoped";
        case binding_mode::isolated:
            return "isolated";
        }
        return "unknown";
    }

    std::string to_string(binding_scope scope)
    {
        switch (scope)
        {
        case binding_scope::note:
            return "note";
        case binding_scope::user:
            return "user";
        }
        return "unknown";
    }

    std::string describe(const binding_config& config)
    {
        std::string text = to_string(config.mode);
        if (config.mode != binding_mode::shared)
        {
            text += "/" + to_string(config.scope);
        }
        if (config.cull_idle_after.count() > 0)
        {
            const auto ms = config.cull_idle_after.count();
            text += ", cull after " +
                    (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms") +
                    " idle";
        }
        if (config.operator_view)
        {
            text += ", operator view";
        }
        return text;
    }

    binding_config binding_from_environment(const getenv_function& getenv_fn)
    {
        binding_config config;
        read_variable(getenv_fn, "ATRIUM_MODE", [&](const std::string& v) { config.mode = parse_mode(v); });
        read_variable(getenv_fn, "ATRIUM_SCOPE",
                      [&](const std::string& v) { config.scope = parse_scope(v); });
        read_variable(getenv_fn, "ATRIUM_CULL_IDLE_SECONDS",
                      [&](const std::string& v) { config.cull_idle_after = parse_cull_seconds(v); });
        read_variable(getenv_fn, "ATRIUM_OPERATOR_VIEW",
                      [&](const std::string& v) { config.operator_view = parse_operator_view(v); });
        return config;
    }
}
