#pragma once
// Loading sidelight's YAML configuration into `config` (config.hpp).
//
// Every error is a `config_error` whose what() reads
//   "<file>:<line>:<col>: <key.path>: <message>"
// e.g. "sidelight.yaml:7:20: upstream.connect_timeout: expected a duration like 500ms".
// Unknown keys and duplicate keys are errors. `${ENV_VAR}` in any scalar is expanded (an unset
// variable is an error; `${VAR:-default}` gives a default). Pure functions, thread-safe.

#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sidelight::config {

class config_error : public std::runtime_error {
  public:
    config_error(source_mark mark, std::string key_path, const std::string& message);
    const source_mark& mark() const { return mark_; }
    const std::string& key_path() const { return key_path_; }

  private:
    source_mark mark_;
    std::string key_path_;
};

// Reads and validates the file. Throws config_error (also for an unreadable file, one that is
// not a regular file — /dev/zero, a FIFO, a directory — and one over max_file_bytes).
inline constexpr std::uint64_t max_file_bytes = 16u << 20;
std::shared_ptr<const config> load_file(const std::string& path);

// Same, from text; `file_name` is used in error messages and to resolve relative paths. The text
// must hold one YAML document: a second one (after `---`) is an error at its position.
std::shared_ptr<const config> load_string(std::string_view yaml, const std::string& file_name);

// The effective configuration (defaults filled in) as YAML that load_string accepts again.
// Secrets (admin.token) are printed as "<redacted>".
std::string dump(const config& cfg);
void dump(const config& cfg, std::ostream& out);  // the same, written to `out` as it goes

// Scalar parsers, exposed for reuse and tests. std::nullopt when the text is not valid.
std::optional<duration> parse_duration(std::string_view text);  // "250ms" "5s" "2m" "1h" "0"
std::optional<std::uint64_t> parse_size(
    std::string_view text);                                   // "512" "64KiB" "1MiB" "2GiB" "10KB"
std::optional<address> parse_address(std::string_view text);  // "h:1" "[::1]:2" "name:3"

}  // namespace sidelight::config
