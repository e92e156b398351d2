#pragma once
// A deliberately lenient HTTP/1.x request parser: what a naive app
// behind sidelight would make of the bytes it receives. It accepts bare LF line ends, obs-fold,
// whitespace before the colon, Content-Length with a sign or a list, any Transfer-Encoding that
// mentions "chunked" (which wins over Content-Length), chunk sizes with junk after the hex
// digits. The differential tests and the fuzzer's oracle check that such a reader never finds
// more requests in what sidelight forwards than sidelight itself counted.
// Pure functions, thread-safe; no sockets (the fuzzer links it). lenient_upstream.hpp serves it.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidelight::test {

struct lenient_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower case
    std::string body;
    int connection_id = 0;

    // The values of every field called `name` (lower case).
    std::vector<std::string> values(std::string_view name) const;
};

enum class lenient_status { complete, incomplete, garbage };

// Parses the request at the front of `data`; on `complete`, removes it from `data`.
lenient_status parse_lenient(std::string_view& data, lenient_request& out);

}  // namespace sidelight::test
