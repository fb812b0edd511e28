// SPDX-License-Identifier: MIT
#include "embed/traceback_format.hpp"

#include <catch2/catch.hpp>

using namespace atrium;

TEST_CASE("cells are named as the user saw them and kernel frames are hidden")
{
    std::vector<stack_frame> frames = {
        {"<atrium-runtime/atrium_runtime.execution>", 80, "run_cell", "exec(unit, namespace)", 0},
        {cell_filename(3), 2, "<module>", "f()", 0},
        {cell_filename(2), 5, "f", "    raise ValueError('boom')", 0},
        {"/usr/lib/python3.11/json/__init__.py", 346, "loads", "return _default_decoder.decode(s)", 0},
    };
    auto lines = format_traceback(frames, "ValueError", "boom", false);
    REQUIRE(lines.size() == 6);
    CHECK(lines[1].find("ValueError") == 0);
    CHECK(lines[1].find("Traceback (most recent call last)") != std::string::npos);
    CHECK(lines[2] == "Cell In[3], line 2\n----> 2 f()");
    CHECK(lines[3] == "Cell In[2], line 5, in f\n----> 5 raise ValueError('boom')");
    CHECK(lines[4].find("File /usr/lib/python3.11/json/__init__.py:346, in loads") == 0);
    CHECK(lines[5] == "ValueError: boom");
    for (const auto& line : lines)
        CHECK(line.find("atrium-runtime") == std::string::npos);
}

TEST_CASE("cells that did not advance the count get distinct filenames but the same name")
{
    CHECK(cell_filename(3, 2) != cell_filename(3));
    auto lines = format_traceback({{cell_filename(3, 2), 1, "<module>", "1/0", 0}}, "ZeroDivisionError",
                                  "division by zero", false);
    CHECK(lines[2] == "Cell In[3], line 1\n----> 1 1/0");
}

TEST_CASE("syntax errors show the line and a caret")
{
    std::vector<stack_frame> frames = {{cell_filename(4), 1, "<module>", "x = (1 +", 9}};
    auto lines = format_traceback(frames, "SyntaxError", "'(' was never closed", true);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "Cell In[4], line 1\n    x = (1 +\n            ^\nSyntaxError: '(' was never closed");
}

TEST_CASE("an exception without a message and long exception names")
{
    std::string long_name(80, 'E');
    auto lines = format_traceback({}, long_name, "", false);
    REQUIRE(lines.size() == 3);
    CHECK(lines[1].find(long_name + " Traceback") == 0);
    CHECK(lines[2] == long_name);
}
