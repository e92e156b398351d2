#pragma once
// What a statement is, from its SQL text, for the labels of the database metrics: the operation
// (its verb, lower-cased, from a closed set) and the table it works on. A small lexer of our
// own, not PostgreSQL's parser: it skips comments (`--`, nested `/* */`), string literals ('..',
// E'..', $tag$..$tag$) and reads quoted identifiers, which is enough to find the verb and the
// first table name. It never returns literal text: the table is built from identifiers only.
//
//   operation: a closed set of eight, from the statement's verb (`WITH ...` takes its main
//              statement's verb; a leading "(" is skipped):
//                select  SELECT, TABLE t, VALUES
//                insert, update, delete, copy   the verb of the same name
//                tx      BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT,
//                        RELEASE, PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
//                ddl     CREATE, ALTER, DROP, TRUNCATE, COMMENT, GRANT, REVOKE
//                other   anything else: MERGE, SET, SHOW, LISTEN, NOTIFY, VACUUM, ANALYZE,
//                        EXPLAIN, DO, CALL, PREPARE, EXECUTE, LOCK, ..., and unparsable text
//              (an EXECUTE is labelled by the tracker as the statement it runs)
//   table:     SELECT/DELETE: the first name after FROM (in a sub-query if need be; a WITH
//              query's name: the table that query reads); INSERT:
//              after INTO; UPDATE, COPY and TABLE: the name after it (COPY (SELECT ...) TO:
//              the query's); ddl: the table of CREATE TABLE x, ALTER TABLE x, DROP TABLE x,
//              TRUNCATE [TABLE] x (other DDL: "none"). A qualified name is reduced to its
//              table: `public.orders` -> orders, `"Sales"."Orders"` -> Orders; unquoted names
//              are lower-cased (PostgreSQL folds them), quoted ones keep their case without the
//              quotes. A function in FROM, no FROM, or a name with a quote, a backslash, a
//              space or a non-ASCII byte: "none". MERGE: its target.
//   writes:    for audit rules, the data-modifying statements inside it (see statement_info).
//   A string is split at top-level semicolons, not inside a routine's BEGIN ATOMIC ... END.
//
// Pure functions, thread-safe. Any input is safe: the lexer never reads past the text.

#include <string>
#include <string_view>
#include <vector>

namespace sidelight::dbproxy {

// An operation and a table, as statement_info names them.
struct statement_target {
    std::string operation;
    std::string table;

    bool operator==(const statement_target&) const = default;
};

// What a statement does with a prepared statement by SQL (PREPARE / EXECUTE / DEALLOCATE; they
// share their names with the protocol's Parse): the tracker keeps each connection's names to
// label an EXECUTE by the statement it runs. execute_inside: an EXECUTE run by EXPLAIN ANALYZE or
// CREATE TABLE AS, whose statement's labels and writes become writes.
enum class sql_prepared { none, prepare, execute, execute_inside, deallocate, deallocate_all };

struct statement_info {
    std::string operation = "other";
    std::string table = "none";
    // The data-modifying statements it runs besides its own verb, for audit rules (never labels):
    // an INSERT, UPDATE or DELETE in a WITH (`WITH d AS (DELETE FROM users ...) SELECT ...`),
    // in what EXPLAIN ANALYZE runs, in a COPY's or a CREATE TABLE AS's query, and MERGE's
    // actions on its target. No duplicates, at most 16.
    std::vector<statement_target> writes{};
    // PREPARE name AS statement, EXECUTE name, DEALLOCATE [PREPARE] name | ALL (and DISCARD
    // ALL): which, and the name (folded as the server folds it).
    sql_prepared prepared = sql_prepared::none;
    std::string prepared_name{};
    // PREPARE: the prepared statement's own labels and writes (the PREPARE itself is
    // other/none and writes nothing).
    std::vector<statement_target> prepared_targets{};

    bool operator==(const statement_info&) const = default;
};

// How a connection's SQL is to be read. The server lexes a text after converting it from the
// client's encoding and with the session's standard_conforming_strings; sidelight reads the
// client's bytes, so it follows both as the server reports them (ParameterStatus: see
// apply_parameter). Wrong here, a string literal would end elsewhere than the server ends it:
// the statements after it would be missed, and a literal's bytes could be read as names.
struct lex_mode {
    // standard_conforming_strings off: a '...' literal takes backslash escapes as E'...' does.
    bool backslash_strings = false;
    // client_encoding, when it is a client-only encoding whose characters' second bytes may be
    // ASCII (a backslash in SJIS, a semicolon in JOHAB): how long a character that starts with a
    // byte >= 0x80 is. sjis: SJIS, SHIFT_JIS_2004 (half-width kana one byte); two_bytes: BIG5,
    // GBK, UHC; gb18030: two or four; euc: JOHAB (as PostgreSQL reads it).
    enum class multibyte : unsigned char { none, sjis, two_bytes, gb18030, euc };
    multibyte client_encoding = multibyte::none;
    bool server_sql_ascii = false;  // server_encoding SQL_ASCII: the server converts nothing

    // How the lexer reads characters: the client's encoding, when the server converts it.
    multibyte encoding() const { return server_sql_ascii ? multibyte::none : client_encoding; }
    bool operator==(const lex_mode&) const = default;
};

// A ParameterStatus the server sent (name, value) into `mode`: standard_conforming_strings,
// client_encoding and server_encoding. Others change nothing.
void apply_parameter(lex_mode& mode, std::string_view name, std::string_view value);

// One statement's text (no trailing semicolon needed).
statement_info classify(std::string_view sql, lex_mode mode = {});

// `inner` runs as a part of `out`: what it modifies (its own verb when it writes, and its writes)
// joins out's writes.
void add_writes(statement_info& out, const statement_info& inner);

// The statements of a simple-query string, split at top-level semicolons (not inside literals,
// quoted identifiers, comments or parentheses); statements with no token (`;;`, a lone comment)
// are left out, as the server sends nothing for them.
std::vector<std::string_view> split_statements(std::string_view sql, lex_mode mode = {});

// A text's shape, into `out`: the text with every literal (a number, a string, a bit string, a
// dollar-quoted body) and every parameter replaced by one marker byte, comments and spacing kept.
// Texts of the same shape split into the same statements and classify the same (neither reads a
// literal's value), so statement_cache keys on it: a query with its values inlined is lexed once,
// not once per value. A text that holds the marker byte itself is its own shape (and never
// equals one that does not).
inline constexpr char shape_marker = '\x01';
void shape_of(std::string_view sql, std::string& out, lex_mode mode = {});

// The statement as an audit row may keep it: every literal (strings, numbers, bit strings,
// dollar-quoted bodies) and every parameter replaced by $1, $2, ... in order, comments dropped,
// whitespace between tokens made one space; at most 4 KiB (then " ..."). It never contains a
// value the client sent: only identifiers, keywords and punctuation.
std::string normalize(std::string_view sql, lex_mode mode = {});

// 16 hex digits: the first 8 bytes of SHA-256 of a normalized text with unquoted names folded to
// lower case; the same statement shape gets the same fingerprint whatever its values.
std::string fingerprint(std::string_view normalized);

}  // namespace sidelight::dbproxy
