// SPDX-License-Identifier: MIT
// json_writer against nlohmann's own dump (the contract it states), for parsed documents and for strings of
// arbitrary bytes (invalid UTF-8 is replaced, never thrown on); and message headers built from arbitrary
// names serialise to JSON that parses back to the same header, as the header text written directly does; and
// json_fast_parse, wherever it accepts a document, gives exactly nlohmann's value (types included).
// Input: any bytes. Parsed as JSON when they are; always also used raw as a string value and a header field.
#include "fuzz_input.hpp"
#include "kernel/json_fast_parse.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/message_header.hpp"

#include <algorithm>

using namespace atrium;
using nlohmann::json;

namespace
{
    void same_as_dump(const json& value)
    {
        std::string ours = to_json(value);
        std::string theirs = value.dump(-1, ' ', false, json::error_handler_t::replace);
        fuzz::require(ours == theirs, "write_json matches dump");
        std::string appended = "prefix";
        write_json(value, appended);
        fuzz::require(appended == "prefix" + theirs, "write_json appends");
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string text(reinterpret_cast<const char*>(data), size);
    // The kernel parses only what wire_codec's depth bound lets through; any input with few brackets is within it.
    if (std::count(text.begin(), text.end(), '[') + std::count(text.begin(), text.end(), '{') <= 256)
    {
        json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (!parsed.is_discarded())
            same_as_dump(parsed);
        if (auto fast = parse_json_fast(text))
            fuzz::require(!parsed.is_discarded() && json_identical(*fast, parsed),
                          "the fast parser reads what nlohmann reads");
    }
    same_as_dump(json(text));
    same_as_dump(json{{"text", text}, {"list", {text, 1, -2.5, nullptr, true}}});

    auto parts = fuzz::split_parts(data, size);
    parts.resize(3);
    json header = make_message_header(parts[0], parts[1], parts[2]);
    json back = json::parse(to_json(header), nullptr, false);
    fuzz::require(back.is_object() && back.size() == header.size(), "a header parses back");
    fuzz::require(back["msg_id"] == header["msg_id"] && back["date"] == header["date"], "ids and dates survive");
    header_text written = make_message_header_text(parts[0], parts[1], parts[2]);
    json read = json::parse(written.json, nullptr, false);
    fuzz::require(read.is_object() && read.size() == header.size() && read["msg_id"] == written.msg_id,
                  "a header's text parses");
    for (const char* key : {"msg_type", "username", "session", "version"})
        fuzz::require(read[key] == back[key], "a header's text holds the header's fields");
    return 0;
}
