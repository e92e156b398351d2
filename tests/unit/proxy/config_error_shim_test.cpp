// TEST-ONLY SHIM (named *_test.cpp only so the tests/unit/proxy glob compiles it): a stand-in
// definition of config_error's constructor so that unit_proxy links before config/load.cpp lands on
// this branch. Delete this file at merge; the real definition lives in config/load.cpp. It follows
// the documented what() format
// "<file>:<line>:<col>: <key.path>: <message>".

#include <string>
#include <utility>

#include "config/load.hpp"

namespace sidelight::config {

namespace {

std::string shim_what(const source_mark& mark, const std::string& key_path,
                      const std::string& message) {
    return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
           key_path + ": " + message;
}

}  // namespace

config_error::config_error(source_mark mark, std::string key_path, const std::string& message)
    : std::runtime_error(shim_what(mark, key_path, message)),
      mark_(std::move(mark)),
      key_path_(std::move(key_path)) {}

}  // namespace sidelight::config
