// SPDX-License-Identifier: MIT
#include "common/raw_frames.hpp"

#include <vector>

namespace atrium::raw_frames
{
    namespace
    {
        struct found
        {
            nlohmann::json path;
            std::string* text;
        };

        void collect(nlohmann::json& value, nlohmann::json& path, std::vector<found>& out)
        {
            if (out.size() >= max_frames)
                return;
            if (value.is_string())
            {
                std::string& text = value.get_ref<std::string&>();
                if (text.size() >= min_bytes)
                    out.push_back({path, &text});
                return;
            }
            if (path.size() >= max_depth || !value.is_structured())
                return;
            if (value.is_object())
            {
                for (auto it = value.begin(); it != value.end(); ++it)
                {
                    path.push_back(it.key());
                    collect(it.value(), path, out);
                    path.erase(path.size() - 1);
                }
            }
            else
            {
                for (std::size_t i = 0; i < value.size(); ++i)
                {
                    path.push_back(i);
                    collect(value[i], path, out);
                    path.erase(path.size() - 1);
                }
            }
        }

        /// Parsed JSON holds a count as unsigned; one built in C++ from an int literal is signed.
        bool is_count(const nlohmann::json& value)
        {
            return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
        }

        [[noreturn]] void refuse(const std::string& why)
        {
            throw worker_wire_error("[worker.bad_message] raw frames: " + why);
        }

        /// The empty string a path points at; refuses a path that leaves the message or lands elsewhere.
        std::string& target(nlohmann::json& message, const nlohmann::json& path,
                            std::initializer_list<const char*> roots)
        {
            if (!path.is_array() || path.empty() || path.size() > max_depth)
                refuse("a path must be an array of 1 to " + std::to_string(max_depth) + " keys and indices");
            bool rooted = false;
            for (const char* root : roots)
                rooted = rooted || (path[0].is_string() && path[0].get_ref<const std::string&>() == root);
            if (!rooted)
                refuse("a path starts outside the fields that may carry raw frames");
            nlohmann::json* at = &message;
            for (const auto& step : path)
            {
                if (step.is_string() && at->is_object())
                {
                    auto it = at->find(step.get_ref<const std::string&>());
                    if (it == at->end())
                        refuse("a path names a key the message does not have");
                    at = &*it;
                }
                else if (is_count(step) && at->is_array())
                {
                    std::uint64_t index = step.get<std::uint64_t>();
                    if (index >= at->size())
                        refuse("a path's index is past the end of its array");
                    at = &(*at)[static_cast<std::size_t>(index)];
                }
                else
                {
                    refuse("a path step is neither a key of an object nor an index of an array");
                }
            }
            if (!at->is_string() || !at->get_ref<const std::string&>().empty())
                refuse("a path does not lead to an empty string");
            return at->get_ref<std::string&>();
        }
    }

    void lift(nlohmann::json& message, std::string& blob, std::initializer_list<const char*> roots)
    {
        std::vector<found> strings;
        for (const char* root : roots)
        {
            auto it = message.find(root);
            if (it == message.end())
                continue;
            nlohmann::json path = nlohmann::json::array({root});
            collect(*it, path, strings);
        }
        if (strings.empty())
            return;
        nlohmann::json list = nlohmann::json::array();
        if (strings.size() == 1)
        {
            blob = std::move(*strings.front().text); // a stream chunk: no copy at all
        }
        else
        {
            std::size_t total = 0;
            for (const auto& s : strings)
                total += s.text->size();
            blob.reserve(total);
            for (const auto& s : strings)
                blob.append(*s.text);
        }
        for (auto& s : strings)
        {
            std::size_t bytes = strings.size() == 1 ? blob.size() : s.text->size();
            list.push_back({{"path", std::move(s.path)}, {"bytes", bytes}});
            s.text->clear();
            s.text->shrink_to_fit();
        }
        message["raw"] = std::move(list);
    }

    void restore(nlohmann::json& message, std::string blob, std::initializer_list<const char*> roots)
    {
        const std::size_t total = blob.size();
        auto it = message.find("raw");
        if (it == message.end())
        {
            if (total != 0)
                refuse("a blob of " + std::to_string(total) + " bytes but no `raw` list");
            return;
        }
        // Taken out first: no path may lead into the list that is being read.
        nlohmann::json list = std::move(*it);
        message.erase(it);
        if (!list.is_array() || list.empty() || list.size() > max_frames)
            refuse("`raw` must be an array of 1 to " + std::to_string(max_frames) + " entries");
        std::size_t at = 0;
        for (const auto& entry : list)
        {
            if (!entry.is_object() || !entry.contains("path") || !entry.contains("bytes") ||
                !is_count(entry["bytes"]))
                refuse("an entry must be an object with a `path` and unsigned `bytes`");
            std::uint64_t bytes = entry["bytes"].get<std::uint64_t>();
            if (bytes == 0 || bytes > total - at)
                refuse("an entry of " + std::to_string(bytes) + " bytes is empty or runs past the blob's end (" +
                       std::to_string(total - at) + " bytes left)");
            std::string& slot = target(message, entry["path"], roots);
            if (at == 0 && bytes == total)
                slot = std::move(blob); // one frame: the stream chunk moves, never copied
            else
                slot.assign(blob, at, static_cast<std::size_t>(bytes));
            at += static_cast<std::size_t>(bytes);
        }
        if (at != total)
            refuse(std::to_string(total - at) + " blob bytes not named by any entry");
    }
}
