#pragma once
// Test counts per suite from a JUnit XML file, for `sidelight report`: ctest's --output-junit
// (one <testsuite> at the root) and GoogleTest's --gtest_output=xml (<testsuites> holding one
// <testsuite> per test suite) both. A suite's counts come from its attributes, or are counted
// from its <testcase> elements where an attribute is missing. `skipped` includes the tests a
// runner lists as disabled. Read with Boost.PropertyTree's XML parser. Pure function;
// thread-safe.

#include <cstdint>
#include <string>
#include <vector>

namespace sidelight::loadtest {

struct junit_suite {
    std::string name;
    std::uint64_t tests = 0, failures = 0, errors = 0, skipped = 0;
};

// Throws std::runtime_error ("invalid XML: ...", "not JUnit XML: the root is <x>").
std::vector<junit_suite> parse_junit(const std::string& xml_text);

}  // namespace sidelight::loadtest
