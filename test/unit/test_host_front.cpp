// SPDX-License-Identifier: MIT
#include "kernel/host/front_rewrite.hpp"
#include "kernel/kernel_options.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace atrium;
using nlohmann::json;

TEST_CASE("host flags")
{
    kernel_options host = parse_kernel_options({"--host", "--host-socket=/tmp/h.sock", "--mode=scoped"});
    CHECK(host.host);
    CHECK(host.host_socket == "/tmp/h.sock");
    CHECK(host.host_linger_seconds == 60);
    CHECK(host.connection_file.empty());
    CHECK(parse_kernel_options({"--host", "--host-socket", "s", "--mode=isolated", "--host-linger", "never"})
              .host_linger_seconds < 0);
    CHECK(parse_kernel_options({"--host", "--host-socket", "s", "--mode=scoped", "--host-linger=0"}).host_linger_seconds == 0);
    CHECK_THROWS_WITH(parse_kernel_options({"--host"}), Catch::Contains("[options.missing_host_socket]"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket=s", "-f", "k.json"}),
                      Catch::Contains("[options.host_with_connection_file]"));
    CHECK_THROWS_WITH(parse_kernel_options({"-f", "k.json", "--host-socket=s"}),
                      Catch::Contains("[options.host_socket_without_host]"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket=s", "--mode=scoped", "--host-linger=soon"}),
                      Catch::Contains("--host-linger"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket=s", "--mode=scoped", "--host-linger=-1"}),
                      Catch::Contains("--host-linger"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket"}), Catch::Contains("needs a value"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket=s"}), Catch::Contains("[options.host_needs_contexts]"));
    CHECK_THROWS_WITH(parse_kernel_options({"--host", "--host-socket=s", "--mode=shared"}),
                      Catch::Contains("[options.host_needs_contexts]"));
}

TEST_CASE("a front's request rewrite")
{
    const front_identity front{"k-1", "alice"};
    const std::string header =
        R"({"msg_id":"c-1","msg_type":"execute_request","session":"s","username":"mallory","date":"x","version":"5.3"})";
    SECTION("msg_id, username and the note are the front's; the rest is the client's")
    {
        auto rewritten = rewrite_request(header, R"({"atrium_note":"other","cellId":"c"})", front, "atrium-host.3.9");
        REQUIRE(rewritten);
        CHECK(rewritten->msg_type == "execute_request");
        json h = json::parse(rewritten->header);
        CHECK(h["msg_id"] == "atrium-host.3.9");
        CHECK(h["username"] == "alice");
        CHECK(h["session"] == "s");
        CHECK(h["version"] == "5.3");
        json m = json::parse(rewritten->metadata);
        CHECK(m["atrium_note"] == "k-1");
        CHECK(m["cellId"] == "c");
    }
    SECTION("anything but objects, or a header without a msg_type string, is refused")
    {
        CHECK_FALSE(rewrite_request("[]", "{}", front, "m"));
        CHECK_FALSE(rewrite_request(header, "[1]", front, "m"));
        CHECK_FALSE(rewrite_request(R"({"msg_type":5})", "{}", front, "m"));
        CHECK_FALSE(rewrite_request("{", "{}", front, "m"));
        CHECK_FALSE(rewrite_request(std::string(300, '[') + std::string(300, ']'), "{}", front, "m"));
        CHECK(rewrite_request(R"({"msg_type":"kernel_info_request"})", "{}", front, "m"));
    }
}

TEST_CASE("host msg ids name their front")
{
    CHECK(front_of_host_msg_id(make_host_msg_id(7, 12, 0xabcdef)) == 7);
    CHECK(front_of_host_msg_id(make_host_msg_id(18446744073709551ULL, 1, ~0ULL)) == 18446744073709551ULL);
    CHECK(front_of_host_msg_id("atrium-host.0.5") == 0);
    CHECK(front_of_host_msg_id("client-msg-id") == 0);
    CHECK(front_of_host_msg_id("atrium-host..5") == 0);
    CHECK(front_of_host_msg_id("atrium-host.12") == 0);
    CHECK(front_of_host_msg_id("atrium-host.1x.2") == 0);
    CHECK(front_of_host_msg_id("atrium-host.99999999999999999999.1") == 0); // 20 digits: past the bound
    CHECK(parent_msg_id(R"({"a":{"msg_id":"nested"},"msg_id":"top"})") == "top");
    CHECK(parent_msg_id(R"({"a":{"msg_id":"nested"}})").empty());
    CHECK(parent_msg_id("{}").empty());
    CHECK(parent_msg_id("not json").empty());
    CHECK(parent_msg_id(R"({"msg_id":5})").empty());
}
