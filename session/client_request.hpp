// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <memory>

namespace nl = nlohmann; // as xeus spells it

namespace atrium
{
    /// One client request as the session layer sees it: already decoded, authenticated and checked by kernel/,
    /// which keeps what it needs to answer it (the routing frames) behind this interface. Immutable.
    class client_request
    {
    public:
        virtual ~client_request() = default;

        virtual const nlohmann::json& header() const = 0;
        virtual const nlohmann::json& parent_header() const = 0;
        virtual const nlohmann::json& metadata() const = 0;
        virtual const nlohmann::json& content() const = 0;
        /// The same request with other content (the code after a leading %note), answered to the same client.
        virtual std::shared_ptr<client_request> with_content(nlohmann::json content) const = 0;
    };

    using client_request_ptr = std::shared_ptr<client_request>;
}
