#pragma once
// `sidelight audit verify|query|export`: the agent's main parses the arguments and calls these.
// Each opens the store file (it must exist), writes to `out` and returns the exit code:
// verify 0 (chain intact) / 1 (broken or checkpoint mismatch) / 2 (cannot open or read);
// query and export 0 / 2. Verify's errors go to `out` as one `ERROR: ...` line (its output is a
// report); query and export write only JSON to `out`, and their errors to `err` (stderr).
//
// Rows are rendered as one JSON object each (to_json): every stored column, with `changes` and
// `details` kept as the exact stored text so an external tool can recompute the chain. Export
// writes one object per line; CR, LF, U+2028 and U+2029 inside values are always escaped.
//
// Thread-safety: none needed; each call opens its own connection.

#include <boost/json/object.hpp>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>

#include "audit/store.hpp"

namespace sidelight::audit {

int audit_verify_main(const std::string& store_path,
                      const std::optional<std::string>& checkpoint_file,
                      const std::optional<std::string>& public_key_file, std::ostream& out);
int audit_query_main(const std::string& store_path, const query_filter& filter, std::ostream& out,
                     std::ostream& err = std::cerr);
int audit_export_main(const std::string& store_path, std::ostream& out,
                      std::ostream& err = std::cerr);

boost::json::object to_json(const stored_event& row);
// serialize(to_json(row)) with U+2028/U+2029 escaped: never contains a line break.
std::string to_json_line(const stored_event& row);

}  // namespace sidelight::audit
