#pragma once
// What a statement is, from its SQL text, for the labels of the database metrics: the operation
// (its verb, lower-cased, from a closed set) and the table it works on. A small lexer of our
// own, not PostgreSQL's parser: it skips comments (`--`, nested `/* */`), string literals ('..',
// E'..', $tag$..$tag$) and reads quoted identifiers, which is enough to find the verb and the
// first table name. It never returns literal text: the table is built from identifiers only.
//
//   operation: select insert update delete merge copy begin commit rollback ... (`WITH ...`
//              resolves to its main statement's verb; `START TRANSACTION` is begin, `END`
//              commit, `ABORT` rollback, `TABLE t`/`VALUES` select; anything else: "other")
//   table:     SELECT/DELETE: the first name after FROM; INSERT/MERGE: after INTO; UPDATE: the
//              name after it; COPY: the name after it. Schema-qualified names keep their
//              schema, as written: `public.orders` stays "public.orders"; unquoted parts are
//              lower-cased (PostgreSQL folds them), quoted parts keep their case without the
//              quotes ("Orders" -> Orders). A function in FROM, a sub-query, or no FROM: "none".
//
// Pure functions, thread-safe. Any input is safe: the lexer never reads past the text.

#include <string>
#include <string_view>
#include <vector>

namespace sidelight::dbproxy {

struct statement_info {
    std::string operation = "other";
    std::string table = "none";

    bool operator==(const statement_info&) const = default;
};

// One statement's text (no trailing semicolon needed).
statement_info classify(std::string_view sql);

// The statements of a simple-query string, split at top-level semicolons (not inside literals,
// quoted identifiers, comments or parentheses); statements with no token (`;;`, a lone comment)
// are left out, as the server sends nothing for them.
std::vector<std::string_view> split_statements(std::string_view sql);

// The statement as an audit row may keep it: every literal (strings, numbers, bit strings,
// dollar-quoted bodies) and every parameter replaced by $1, $2, ... in order, comments dropped,
// whitespace between tokens made one space; at most 4 KiB (then " ..."). It never contains a
// value the client sent: only identifiers, keywords and punctuation.
std::string normalize(std::string_view sql);

// 16 hex digits: the first 8 bytes of SHA-256 of a normalized text with unquoted names folded to
// lower case; the same statement shape gets the same fingerprint whatever its values.
std::string fingerprint(std::string_view normalized);

}  // namespace sidelight::dbproxy
