// Reading JUnit XML test counts with Boost.PropertyTree (junit.hpp).
#include "loadtest/junit.hpp"

#include <sstream>
#include <stdexcept>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

namespace sidelight::loadtest {
namespace {

namespace pt = boost::property_tree;

// The <testcase> children that hold an element named `child` (failure, error, skipped).
std::uint64_t cases_with(const pt::ptree& suite, const char* child) {
    std::uint64_t n = 0;
    for (const auto& [name, c] : suite)
        if (name == "testcase" && c.get_child_optional(child)) ++n;
    return n;
}

// The attribute as a count, or what the <testcase> elements say when it is missing.
std::uint64_t attribute_or(const pt::ptree& suite, const char* attribute, std::uint64_t counted) {
    const auto a = suite.get_optional<std::uint64_t>(std::string("<xmlattr>.") + attribute);
    return a ? *a : counted;
}

junit_suite suite_of(const pt::ptree& suite) {
    junit_suite s;
    s.name = suite.get<std::string>("<xmlattr>.name", "");
    s.tests = attribute_or(suite, "tests", suite.count("testcase"));
    s.failures = attribute_or(suite, "failures", cases_with(suite, "failure"));
    s.errors = attribute_or(suite, "errors", cases_with(suite, "error"));
    s.skipped = attribute_or(suite, "skipped", cases_with(suite, "skipped")) +
                suite.get<std::uint64_t>("<xmlattr>.disabled", 0);
    return s;
}

}  // namespace

std::vector<junit_suite> parse_junit(const std::string& xml_text) {
    pt::ptree doc;
    std::istringstream in(xml_text);
    try {
        pt::read_xml(in, doc);
    } catch (const pt::xml_parser_error& e) {
        throw std::runtime_error("invalid XML: line " + std::to_string(e.line()) + ": " +
                                 e.message());
    } catch (const pt::ptree_error& e) {
        throw std::runtime_error(std::string("invalid XML: ") + e.what());
    }
    std::vector<junit_suite> out;
    for (const auto& [name, root] : doc) {
        if (name == "<xmlcomment>") continue;
        if (name == "testsuite") {
            out.push_back(suite_of(root));
        } else if (name == "testsuites") {
            for (const auto& [child, suite] : root)
                if (child == "testsuite") out.push_back(suite_of(suite));
        } else {
            throw std::runtime_error("not JUnit XML: the root is <" + name +
                                     ">, expected <testsuite> or <testsuites>");
        }
    }
    if (out.empty() && doc.empty()) throw std::runtime_error("not JUnit XML: no root element");
    return out;
}

}  // namespace sidelight::loadtest
