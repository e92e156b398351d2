// The lexer behind classify(): tokens with their parenthesis depth, then a few rules per verb.
#include "dbproxy/sql_lexer.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>

#include <openssl/sha.h>

namespace sidelight::dbproxy {
namespace {

enum class kind { word, quoted, literal, punct, end };

struct token {
    kind k = kind::end;
    std::string_view text;  // word: as written; quoted: between the quotes (with "" doubled)
    int depth = 0;          // parentheses open before it
    std::size_t end = 0;    // offset after it
    std::size_t start = 0;  // its offset (set by tokens_of)
};

// ASCII classes, as the "C" locale has them (sidelight never sets another): inline tests
// instead of a libc call per character of every statement lexed.
bool is_alpha(unsigned char u) {
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}
bool is_digit(unsigned char u) {
    return u >= '0' && u <= '9';
}
bool is_alnum(unsigned char u) {
    return is_alpha(u) || is_digit(u);
}
bool is_space(unsigned char u) {
    return u == ' ' || (u >= '\t' && u <= '\r');  // \t \n \v \f \r
}
unsigned char to_lower(unsigned char u) {
    return u >= 'A' && u <= 'Z' ? static_cast<unsigned char>(u + ('a' - 'A')) : u;
}

bool word_start(char c) {
    const auto u = static_cast<unsigned char>(c);
    return is_alpha(u) || c == '_' || u >= 0x80;
}

bool word_char(char c) {
    return word_start(c) || is_digit(static_cast<unsigned char>(c)) || c == '$';
}

bool equals_ci(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return to_lower(static_cast<unsigned char>(x)) == y;
           });
}

class lexer {
  public:
    explicit lexer(std::string_view sql, lex_mode mode = {}) : s_(sql), mode_(mode) {}

    token next() {
        skip_space_and_comments();
        start_ = i_;
        if (i_ >= s_.size()) return {kind::end, {}, depth_, i_};
        const std::size_t start = i_;
        const char c = s_[i_];
        if ((c == 'e' || c == 'E') && peek(1) == '\'') return string_literal(start, 1, true);
        if ((c == 'n' || c == 'N') && peek(1) == '\'')  // a national string: as a plain one
            return string_literal(start, 1, mode_.backslash_strings);
        if ((c == 'b' || c == 'B' || c == 'x' || c == 'X') && peek(1) == '\'')
            return string_literal(start, 1, false);
        if ((c == 'u' || c == 'U') && peek(1) == '&' && peek(2) == '\'')
            return string_literal(start, 2, false);
        if ((c == 'u' || c == 'U') && peek(1) == '&' && peek(2) == '"') {
            i_ += 2;
            return quoted_identifier(start);
        }
        if (c == '\'') return string_literal(start, 0, mode_.backslash_strings);
        if (c == '"') return quoted_identifier(start);
        if (c == '$') return dollar(start);
        if (word_start(c)) {
            while (i_ < s_.size() && word_char(s_[i_])) i_ += char_length();
            i_ = std::min(i_, s_.size());
            return {kind::word, s_.substr(start, i_ - start), depth_, i_};
        }
        if (is_digit(static_cast<unsigned char>(c))) {
            while (i_ < s_.size() &&
                   (is_alnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == '_'))
                ++i_;
            return {kind::literal, {}, depth_, i_};
        }
        ++i_;
        token t{kind::punct, s_.substr(start, 1), depth_, i_};
        if (c == '(') ++depth_;
        if (c == ')' && depth_ > 0) t.depth = --depth_;
        return t;
    }

    std::size_t start_of_last() const { return start_; }  // the offset of next()'s token

  private:
    char peek(std::size_t ahead) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }

    void skip_space_and_comments() {
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (is_space(static_cast<unsigned char>(c))) {
                ++i_;
            } else if (c == '-' && peek(1) == '-') {
                while (i_ < s_.size() && s_[i_] != '\n') ++i_;
            } else if (c == '/' && peek(1) == '*') {
                skip_block_comment();
            } else {
                return;
            }
        }
    }

    // PostgreSQL nests block comments.
    void skip_block_comment() {
        int nesting = 0;
        while (i_ < s_.size()) {
            if (s_[i_] == '/' && peek(1) == '*') {
                ++nesting;
                i_ += 2;
            } else if (s_[i_] == '*' && peek(1) == '/') {
                i_ += 2;
                if (--nesting == 0) return;
            } else {
                ++i_;
            }
        }
    }

    // The bytes of the character at i_ in the client's encoding (PostgreSQL's pg_*_mblen): in a
    // client-only encoding, a byte >= 0x80 starts a character whose next byte may be ASCII (a
    // backslash in SJIS, a semicolon in JOHAB) and is not that ASCII character.
    std::size_t char_length() const { return char_length(i_); }
    std::size_t char_length(std::size_t at) const {
        const auto u = static_cast<unsigned char>(s_[at]);
        if (u < 0x80) return 1;
        switch (mode_.encoding()) {
            case lex_mode::multibyte::none:
                return 1;
            case lex_mode::multibyte::sjis:
                return u >= 0xa1 && u <= 0xdf ? 1 : 2;  // half-width kana are one byte
            case lex_mode::multibyte::two_bytes:
                return 2;
            case lex_mode::multibyte::gb18030: {
                const auto next = at + 1 < s_.size() ? static_cast<unsigned char>(s_[at + 1]) : 0;
                return next >= 0x30 && next <= 0x39 ? 4 : 2;
            }
            case lex_mode::multibyte::euc:  // JOHAB, read as PostgreSQL reads it
                return u == 0x8f ? 3 : 2;
        }
        return 1;
    }

    // '..' with '' inside; E'..' (and '..' with standard_conforming_strings off) also with
    // backslash escapes. Unterminated: to the end.
    token string_literal(std::size_t start, std::size_t prefix, bool backslash) {
        i_ += prefix + 1;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (backslash && static_cast<unsigned char>(c) >= 0x80) {
                i_ += char_length();  // its second byte is not a backslash
            } else if (backslash && c == '\\') {
                ++i_;  // escapes the whole character after it
                if (i_ < s_.size()) i_ += char_length();
            } else if (c == '\'') {
                if (peek(1) == '\'') {
                    i_ += 2;
                } else if (const auto next = continued(i_ + 1)) {
                    i_ = *next;  // the same literal goes on, read the same way
                } else {
                    ++i_;
                    break;
                }
            } else {
                ++i_;
            }
        }
        i_ = std::min(i_, s_.size());
        return {kind::literal, {}, depth_, i_};
    }

    // After a literal's closing quote at `at` - 1: whitespace holding a newline (and `--`
    // comments), then a quote, continue the literal (SQL's 'foo'\n'bar'); the offset after that
    // quote.
    std::optional<std::size_t> continued(std::size_t at) const {
        bool newline = false;
        while (at < s_.size()) {
            const char c = s_[at];
            if (c == '\n' || c == '\r') {
                newline = true;
                ++at;
            } else if (c == ' ' || c == '\t' || c == '\f') {
                ++at;
            } else if (c == '-' && at + 1 < s_.size() && s_[at + 1] == '-') {
                while (at < s_.size() && s_[at] != '\n' && s_[at] != '\r') ++at;
            } else {
                break;
            }
        }
        if (!newline || at >= s_.size() || s_[at] != '\'') return std::nullopt;
        return at + 1;
    }

    token quoted_identifier(std::size_t start) {
        const std::size_t open = ++i_;
        while (i_ < s_.size()) {
            if (s_[i_] == '"' && peek(1) == '"') {
                i_ += 2;
            } else if (s_[i_] == '"') {
                break;
            } else {
                ++i_;
            }
        }
        const auto text = s_.substr(open, std::min(i_, s_.size()) - open);
        if (i_ < s_.size()) ++i_;
        return {kind::quoted, text, depth_, i_};
    }

    // $1 (a parameter) or $tag$ ... $tag$ (a dollar-quoted literal); a lone $ is punctuation.
    token dollar(std::size_t start) {
        std::size_t j = i_ + 1;
        if (j < s_.size() && is_digit(static_cast<unsigned char>(s_[j]))) {
            while (j < s_.size() && is_digit(static_cast<unsigned char>(s_[j]))) ++j;
            i_ = j;
            return {kind::literal, {}, depth_, i_};
        }
        while (j < s_.size() && (word_start(s_[j]) || is_digit(static_cast<unsigned char>(s_[j]))))
            j += char_length(j);  // a tag's character whose second byte looks like ASCII
        if (j >= s_.size() || s_[j] != '$') {
            ++i_;
            return {kind::punct, s_.substr(start, 1), depth_, i_};
        }
        const auto tag = s_.substr(i_, j - i_ + 1);  // "$tag$"
        const auto close = s_.find(tag, j + 1);
        i_ = close == std::string_view::npos ? s_.size() : close + tag.size();
        return {kind::literal, {}, depth_, i_};
    }

    std::string_view s_;
    lex_mode mode_;
    std::size_t i_ = 0;
    std::size_t start_ = 0;
    int depth_ = 0;
};

// A statement's label needs its first tokens only: a huge INSERT ... VALUES is not walked. A
// statement whose writes may come late (a WITH, MERGE, EXPLAIN, COPY, CREATE, PREPARE) is read
// whole: its text is at most the 64 KiB the splitter keeps.
constexpr std::size_t label_tokens = 4096;

std::vector<token> tokens_of(std::string_view sql, lex_mode mode, std::size_t limit) {
    std::vector<token> out;
    out.reserve(std::min(limit, sql.size() / 3 + 8));  // about a token per 3 bytes of SQL
    lexer lx(sql, mode);
    for (token t = lx.next(); t.k != kind::end && out.size() < limit; t = lx.next()) {
        t.start = lx.start_of_last();
        out.push_back(t);
    }
    return out;
}

bool is_word(const token& t, std::string_view lower) {
    return t.k == kind::word && equals_ci(t.text, lower);
}

bool is_punct(const token& t, char c) {
    return t.k == kind::punct && t.text.size() == 1 && t.text[0] == c;
}

bool is_any(const token& t, std::initializer_list<std::string_view> lower) {
    return std::any_of(lower.begin(), lower.end(), [&](auto w) { return is_word(t, w); });
}

// The operation of the statement whose verb is t[i] (see sql_lexer.hpp for the mapping).
std::string_view operation_of(const std::vector<token>& t, std::size_t i) {
    const auto& verb = t[i];
    if (is_any(verb, {"select", "table", "values"})) return "select";
    if (is_word(verb, "insert")) return "insert";
    if (is_word(verb, "update")) return "update";
    if (is_word(verb, "delete")) return "delete";
    if (is_word(verb, "copy")) return "copy";
    // COMMIT PREPARED and ROLLBACK PREPARED are commit and rollback words too.
    if (is_any(verb,
               {"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"}))
        return "tx";
    // PREPARE TRANSACTION 'id' is two-phase commit; PREPARE name AS ... is not.
    if (is_word(verb, "prepare") && i + 1 < t.size() && is_word(t[i + 1], "transaction"))
        return "tx";
    if (is_any(verb, {"create", "alter", "drop", "truncate", "comment", "grant", "revoke"}))
        return "ddl";
    return "other";
}

// Index after the balanced group that opens at `i` (a "(" token).
std::size_t skip_group(const std::vector<token>& t, std::size_t i) {
    const int depth = t[i].depth;
    for (++i; i < t.size(); ++i)
        if (is_punct(t[i], ')') && t[i].depth == depth) return i + 1;
    return t.size();
}

// The text inside the group that opens at token `open` and ends before token `after` (what
// skip_group returned): to the end of `sql` when it is not closed.
std::string_view group_text(std::string_view sql, const std::vector<token>& t, std::size_t open,
                            std::size_t after) {
    const auto from = t[open].end;
    const auto to = after <= t.size() && is_punct(t[after - 1], ')') && after - 1 > open
                        ? t[after - 1].start
                        : sql.size();
    return sql.substr(from, to - from);
}

// After a WITH query's ")": SEARCH {BREADTH | DEPTH} FIRST BY col [, ...] SET col and CYCLE col
// [, ...] SET col [TO value DEFAULT value] USING col (PostgreSQL 14), each optional: the index
// after them.
std::size_t after_search_and_cycle(const std::vector<token>& t, std::size_t i) {
    const auto skip_to_set = [&](std::size_t j) {
        const int depth = t[j].depth;
        while (j < t.size() && !(is_word(t[j], "set") && t[j].depth == depth)) ++j;
        return std::min(j + 2, t.size());  // SET col
    };
    if (i < t.size() && is_word(t[i], "search")) i = skip_to_set(i);
    if (i < t.size() && is_word(t[i], "cycle")) {
        i = skip_to_set(i);
        if (i < t.size() && is_word(t[i], "to")) i = std::min(i + 4, t.size());  // TO v DEFAULT v
        if (i < t.size() && is_word(t[i], "using")) i = std::min(i + 2, t.size());
    }
    return i;
}

// A WITH's query: the token of its name, its "(" and the index after its ")".
struct cte {
    std::size_t name, open, after;
};

// After `WITH [RECURSIVE]`: name [(cols)] AS [[NOT] MATERIALIZED] (query) [, ...]; the index of
// the main statement's verb, or none when the text does not have that shape. Each query goes to
// `ctes`.
std::optional<std::size_t> after_ctes(const std::vector<token>& t, std::size_t i,
                                      std::vector<cte>& ctes) {
    if (i < t.size() && is_word(t[i], "recursive")) ++i;
    while (i < t.size()) {
        if (t[i].k != kind::word && t[i].k != kind::quoted) return std::nullopt;
        const auto name = i;
        ++i;
        if (i < t.size() && is_punct(t[i], '(')) i = skip_group(t, i);
        if (i >= t.size() || !is_word(t[i], "as")) return std::nullopt;
        ++i;
        if (i < t.size() && is_word(t[i], "not")) ++i;
        if (i < t.size() && is_word(t[i], "materialized")) ++i;
        if (i >= t.size() || !is_punct(t[i], '(')) return std::nullopt;
        const auto open = i;
        i = skip_group(t, i);
        ctes.push_back({name, open, i});
        i = after_search_and_cycle(t, i);
        if (i < t.size() && is_punct(t[i], ',')) {
            ++i;
            continue;
        }
        return i < t.size() ? std::optional(i) : std::nullopt;
    }
    return std::nullopt;
}

// One part of a name for a label: printable ASCII without quotes or backslashes, at most 63
// bytes (NAMEDATALEN - 1).
std::optional<std::string> name_part(const token& t) {
    if (t.k != kind::word && t.k != kind::quoted) return std::nullopt;
    if (t.text.empty() || t.text.size() > 63) return std::nullopt;
    std::string out;
    for (char c : t.text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e) return std::nullopt;
        out += t.k == kind::word ? static_cast<char>(to_lower(u)) : c;
    }
    // A quoted identifier may hold anything; a label never holds a quote or a backslash.
    if (out.find_first_of("\"'\\`") != std::string::npos) return std::nullopt;
    return out;
}

// A table name starting at `i`, without its schema (and database) qualifiers; none when it is
// not one (a sub-query, a literal, or after FROM a function call: `in_from`; elsewhere "("
// opens a column list).
std::optional<std::string> name_at(const std::vector<token>& t, std::size_t i,
                                   bool in_from = false) {
    if (i < t.size() && (is_word(t[i], "only") || is_word(t[i], "lateral"))) ++i;
    std::string name;
    for (int parts = 0; i < t.size() && parts < 3; ++parts) {
        auto part = name_part(t[i]);
        if (!part) return std::nullopt;
        name = std::move(*part);  // the last part is the table
        ++i;
        if (i < t.size() && is_punct(t[i], '.')) {
            ++i;
            continue;
        }
        if (in_from && i < t.size() && is_punct(t[i], '(')) return std::nullopt;  // a function
        return name;
    }
    return std::nullopt;
}

// The name after the first `keyword` from `i` on at `depth`; then at any depth.
std::string table_after(const std::vector<token>& t, std::size_t i, std::string_view keyword,
                        int depth) {
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t j = i; j < t.size(); ++j) {
            if (!is_word(t[j], keyword) || (pass == 0 && t[j].depth != depth)) continue;
            if (auto name = name_at(t, j + 1, keyword == "from")) return *name;
        }
    }
    return "none";
}

// CREATE [modifiers] TABLE [IF NOT EXISTS] x, ALTER TABLE [IF EXISTS] [ONLY] x, DROP TABLE
// [IF EXISTS] x, TRUNCATE [TABLE] [ONLY] x: x. Any other DDL: none.
std::optional<std::string> ddl_table(const std::vector<token>& t, std::size_t i) {
    const bool truncate = is_word(t[i], "truncate");
    if (!truncate && !is_any(t[i], {"create", "alter", "drop"})) return std::nullopt;
    ++i;
    if (is_word(t[i - 1], "create"))
        while (i < t.size() &&
               is_any(t[i], {"global", "local", "temp", "temporary", "unlogged", "or", "replace"}))
            ++i;
    if (i < t.size() && is_word(t[i], "table")) {
        ++i;
    } else if (!truncate) {
        return std::nullopt;
    }
    if (i < t.size() && is_word(t[i], "if")) {
        ++i;
        if (i < t.size() && is_word(t[i], "not")) ++i;
        if (i >= t.size() || !is_word(t[i], "exists")) return std::nullopt;
        ++i;
    }
    return name_at(t, i);
}

// A statement inside a statement (a CTE's, EXPLAIN's, PREPARE's) is classified on its own text;
// deeper than this, it is not looked into (each level lexes its text again).
constexpr int max_nesting = 4;
// What one statement keeps of its writes (each is a copy in every statement that names it).
constexpr std::size_t max_writes = 16;

// `budget`: the bytes a statement inside may still be lexed whole for (see classify_at).
statement_info classify_at(std::string_view sql, lex_mode mode, int nesting, std::size_t& budget);
void add_write(statement_info& out, statement_target w);

void add_write(statement_info& out, statement_target w) {
    if (out.writes.size() < max_writes &&
        std::find(out.writes.begin(), out.writes.end(), w) == out.writes.end())
        out.writes.push_back(std::move(w));
}

// A literal (`ANALYZE 0`, `ANALYZE 'off'`) is taken as true: a text's labels never depend on a
// literal's value (statement_cache keys on the shape), and auditing one EXPLAIN too many is the
// safe side.
bool is_false(const token& v) {
    return is_any(v, {"false", "off"});
}

// An option name is a word or a quoted name, compared as the server compares it (lower case).
bool names_analyze(const token& t) {
    return is_any(t, {"analyze", "analyse"}) ||
           (t.k == kind::quoted && (t.text == "analyze" || t.text == "analyse"));
}

// EXPLAIN (options) statement | EXPLAIN [ANALYZE | ANALYSE] [VERBOSE] statement: the index of
// the statement when EXPLAIN runs it (ANALYZE not set false), else none.
std::optional<std::size_t> explained_and_run(const std::vector<token>& t, std::size_t i) {
    ++i;
    bool analyze = false;
    if (i < t.size() && is_punct(t[i], '(')) {
        const auto after = skip_group(t, i);
        for (std::size_t j = i + 1; j < after; ++j) {
            if (t[j].depth != t[i].depth + 1 || !names_analyze(t[j])) continue;
            analyze = !(j + 1 < after && is_false(t[j + 1]));
        }
        i = after;
    } else {
        if (i < t.size() && is_any(t[i], {"analyze", "analyse"})) {
            analyze = true;
            ++i;
        }
        if (i < t.size() && is_word(t[i], "verbose")) ++i;
    }
    if (!analyze || i >= t.size()) return std::nullopt;
    return i;
}

// A prepared statement's name as the server keeps it: an unquoted one folded to lower case
// (ASCII, as the server folds it), a quoted one as written with "" undoubled, cut at 63 bytes
// (at a character's start, as the server cuts an identifier in UTF-8).
// Not a label: any byte may be in it. A U&"..." name with escapes is taken as written.
std::optional<std::string> server_name_of(const token& t) {
    if (t.k != kind::word && t.k != kind::quoted) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < t.text.size() && out.size() <= 63; ++i) {
        const auto u = static_cast<unsigned char>(t.text[i]);
        if (t.k == kind::quoted && u == '"') ++i;  // "" is one quote
        out += t.k == kind::word ? static_cast<char>(to_lower(u)) : static_cast<char>(u);
    }
    if (out.size() > 63) {  // cut before a character that does not fit whole (UTF-8)
        std::size_t n = 63;
        while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xc0) == 0x80) --n;
        out.resize(n);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

// PREPARE name [(types)] AS statement, EXECUTE name, DEALLOCATE [PREPARE] name | ALL,
// DISCARD ALL.
void sql_prepared_of(std::string_view sql, lex_mode mode, const std::vector<token>& t,
                     std::size_t i, int nesting, std::size_t& budget, statement_info& out) {
    const auto name_after = [&](std::size_t j) -> std::optional<std::string> {
        if (j >= t.size()) return std::nullopt;
        return server_name_of(t[j]);
    };
    if (is_word(t[i], "discard")) {
        if (i + 1 < t.size() && is_word(t[i + 1], "all"))
            out.prepared = sql_prepared::deallocate_all;
    } else if (is_word(t[i], "deallocate")) {
        auto j = i + 1;
        if (j + 1 < t.size() && is_word(t[j], "prepare")) ++j;  // (a statement named prepare)
        if (j < t.size() && is_word(t[j], "all")) {
            out.prepared = sql_prepared::deallocate_all;
        } else if (auto name = name_after(j)) {
            out.prepared = sql_prepared::deallocate;
            out.prepared_name = std::move(*name);
        }
    } else if (is_word(t[i], "execute")) {
        if (auto name = name_after(i + 1)) {
            out.prepared = sql_prepared::execute;
            out.prepared_name = std::move(*name);
        }
    } else if (is_word(t[i], "prepare") && nesting < max_nesting) {
        auto name = name_after(i + 1);
        if (!name) return;
        auto j = i + 2;
        if (j < t.size() && is_punct(t[j], '(')) j = skip_group(t, j);
        if (j + 1 >= t.size() || !is_word(t[j], "as")) return;
        const auto inner = classify_at(sql.substr(t[j + 1].start), mode, nesting + 1, budget);
        out.prepared = sql_prepared::prepare;
        out.prepared_name = std::move(*name);
        out.prepared_targets.push_back({inner.operation, inner.table});
        out.prepared_targets.insert(out.prepared_targets.end(), inner.writes.begin(),
                                    inner.writes.end());
    }
}

// MERGE INTO [ONLY] target ... WHEN ... THEN UPDATE | DELETE | INSERT: the target, and what its
// actions do to it.
void merge_of(const std::vector<token>& t, std::size_t i, statement_info& out) {
    if (i + 1 >= t.size() || !is_word(t[i + 1], "into")) return;
    const auto target = name_at(t, i + 2);
    if (!target) return;
    out.table = *target;
    const int depth = t[i].depth;
    for (std::size_t j = i + 2; j + 1 < t.size(); ++j) {
        if (t[j].depth != depth || !is_word(t[j], "then")) continue;
        for (std::string_view op : {"update", "delete", "insert"})
            if (is_word(t[j + 1], op)) add_write(out, {std::string(op), *target});
    }
}

// A WITH's queries: what they modify are the statement's writes, and a query named as the table
// (`WITH recent AS (SELECT ... FROM orders) SELECT ... FROM recent`) stands for the table it
// reads, through a chain of them; one that reads none of its own (a recursive one over VALUES)
// gives none.
void with_queries(std::string_view sql, lex_mode mode, const std::vector<token>& t,
                  const std::vector<cte>& ctes, int nesting, std::size_t& budget,
                  statement_info& out) {
    std::vector<std::pair<std::string, std::string>> tables;  // a query's name, its table
    for (const auto& c : ctes) {
        auto inner = classify_at(group_text(sql, t, c.open, c.after), mode, nesting + 1, budget);
        add_writes(out, inner);
        if (auto name = name_part(t[c.name])) tables.emplace_back(std::move(*name), inner.table);
    }
    for (std::size_t hops = 0; hops <= tables.size(); ++hops) {
        if (out.table == "none") return;
        const auto it = std::find_if(tables.begin(), tables.end(),
                                     [&](const auto& q) { return q.first == out.table; });
        if (it == tables.end()) return;
        out.table = it->second;
    }
    out.table = "none";  // a cycle: a recursive query that reads only itself
}

// CREATE [modifiers] TABLE x ... AS query: the index of the query.
std::optional<std::size_t> created_from(const std::vector<token>& t, std::size_t i) {
    if (!is_word(t[i], "create")) return std::nullopt;
    const int depth = t[i].depth;
    for (++i; i < t.size() && is_any(t[i], {"global", "local", "temp", "temporary", "unlogged"});)
        ++i;
    if (i >= t.size() || !is_word(t[i], "table")) return std::nullopt;
    for (; i + 1 < t.size(); ++i)
        if (is_word(t[i], "as") && t[i].depth == depth) return i + 1;
    return std::nullopt;
}

// `inner` runs as a part of `out` (EXPLAIN ANALYZE's statement, a COPY's or CREATE TABLE AS's
// query): what it modifies is out's too, and an EXECUTE in it is resolved by the tracker.
void runs_inside(statement_info& out, const statement_info& inner) {
    add_writes(out, inner);
    if (inner.prepared == sql_prepared::execute || inner.prepared == sql_prepared::execute_inside) {
        out.prepared = sql_prepared::execute_inside;
        out.prepared_name = inner.prepared_name;
    }
}

statement_info classify_at(std::string_view sql, lex_mode mode, int nesting, std::size_t& budget) {
    auto t = tokens_of(sql, mode, label_tokens);
    std::size_t i = 0;
    while (i < t.size() && is_punct(t[i], '(')) ++i;  // (SELECT ...) UNION ...
    if (i >= t.size() || t[i].k != kind::word) return {};
    // Read whole: the statement itself, and those inside it while the budget lasts (each level
    // lexes its text again: EXPLAIN ANALYZE EXPLAIN ANALYZE ... of 64 KiB would cost one lexing
    // of the text per level).
    if (t.size() == label_tokens &&
        is_any(t[i], {"with", "merge", "explain", "copy", "create", "prepare"}) &&
        (nesting == 0 || budget >= sql.size())) {
        if (nesting > 0) budget -= sql.size();
        t = tokens_of(sql, mode, sql.size());
    }
    std::vector<cte> ctes;
    if (is_word(t[i], "with")) {
        const auto main = after_ctes(t, i + 1, ctes);
        if (!main || t[*main].k != kind::word) return {};
        i = *main;
    }
    statement_info out;
    out.operation = operation_of(t, i);
    const int depth = t[i].depth;
    const auto& op = out.operation;
    if (op == "select" && is_word(t[i], "table")) {
        out.table = name_at(t, i + 1).value_or("none");
    } else if (op == "select" || op == "delete") {
        out.table = table_after(t, i + 1, "from", depth);
    } else if (op == "insert") {
        out.table = table_after(t, i + 1, "into", depth);
    } else if (op == "copy" && i + 1 < t.size() && is_punct(t[i + 1], '(')) {
        out.table = table_after(t, i + 1, "from", depth + 1);  // COPY (SELECT ... FROM x) TO
        if (nesting < max_nesting)                             // COPY (DELETE ... RETURNING ...) TO
            runs_inside(out, classify_at(group_text(sql, t, i + 1, skip_group(t, i + 1)), mode,
                                         nesting + 1, budget));
    } else if (op == "update" || op == "copy") {
        out.table = name_at(t, i + 1).value_or("none");
    } else if (op == "ddl") {
        out.table = ddl_table(t, i).value_or("none");
        if (const auto query = created_from(t, i); query && nesting < max_nesting)
            runs_inside(out, classify_at(sql.substr(t[*query].start), mode, nesting + 1, budget));
    } else if (is_word(t[i], "merge")) {
        merge_of(t, i, out);
    } else if (is_word(t[i], "explain")) {
        if (const auto run = explained_and_run(t, i); run && nesting < max_nesting)
            runs_inside(out, classify_at(sql.substr(t[*run].start), mode, nesting + 1, budget));
    } else if (op == "other") {
        sql_prepared_of(sql, mode, t, i, nesting, budget, out);
    }
    if (!ctes.empty() && nesting < max_nesting)
        with_queries(sql, mode, t, ctes, nesting, budget, out);
    return out;
}

}  // namespace

void apply_parameter(lex_mode& mode, std::string_view name, std::string_view value) {
    using mb = lex_mode::multibyte;
    if (equals_ci(name, "standard_conforming_strings")) {
        mode.backslash_strings = equals_ci(value, "off");
    } else if (equals_ci(name, "server_encoding")) {
        mode.server_sql_ascii = equals_ci(value, "sql_ascii");
    } else if (equals_ci(name, "client_encoding")) {
        mode.client_encoding =
            equals_ci(value, "sjis") || equals_ci(value, "shift_jis_2004") ? mb::sjis
            : equals_ci(value, "big5") || equals_ci(value, "gbk") || equals_ci(value, "uhc")
                ? mb::two_bytes
            : equals_ci(value, "gb18030") ? mb::gb18030
            : equals_ci(value, "johab")   ? mb::euc
                                          : mb::none;
    }
}

statement_info classify(std::string_view sql, lex_mode mode) {
    std::size_t budget = sql.size();  // statements inside: once more the text, lexed whole
    return classify_at(sql, mode, 0, budget);
}

void add_writes(statement_info& out, const statement_info& inner) {
    const auto& op = inner.operation;
    if (op == "insert" || op == "update" || op == "delete") add_write(out, {op, inner.table});
    for (const auto& w : inner.writes) add_write(out, w);
}

std::vector<std::string_view> split_statements(std::string_view sql, lex_mode mode) {
    std::vector<std::string_view> out;
    lexer lx(sql, mode);
    std::size_t start = 0;
    std::size_t tokens = 0;    // of the statement so far
    bool create = false;       // it starts with CREATE
    bool routine = false;      // ... and names FUNCTION or PROCEDURE
    bool after_begin = false;  // the token before was such a statement's BEGIN
    int body = 0;              // inside BEGIN ATOMIC ... END, with the CASE ... END in it
    for (token t = lx.next();; t = lx.next()) {
        // A routine's SQL-standard body holds statements of its own, whose semicolons the
        // server's grammar does not split the string at.
        const bool boundary = t.k == kind::end || (is_punct(t, ';') && t.depth == 0 && body == 0);
        if (!boundary) {
            if (t.k == kind::word) {
                if (tokens == 0)
                    create = is_word(t, "create");
                else if (create && !routine)
                    routine = is_any(t, {"function", "procedure"});
                if (after_begin && is_word(t, "atomic"))
                    ++body;
                else if (body > 0 && is_word(t, "case"))
                    ++body;
                else if (body > 0 && is_word(t, "end"))
                    --body;
                after_begin = routine && body == 0 && is_word(t, "begin");
            } else {
                after_begin = false;
            }
            ++tokens;
            continue;
        }
        const std::size_t stop = t.k == kind::end ? sql.size() : t.end - 1;
        if (tokens > 0) out.push_back(sql.substr(start, stop - start));
        if (t.k == kind::end) break;
        start = t.end;
        tokens = 0;
        create = routine = after_begin = false;
        body = 0;
    }
    return out;
}

void shape_of(std::string_view sql, std::string& out, lex_mode mode) {
    out.clear();
    // The mode first: a text read in another mode is another shape.
    const auto mode_byte = static_cast<char>('0' + (mode.backslash_strings ? 1 : 0) +
                                             2 * static_cast<int>(mode.encoding()));
    if (sql.find(shape_marker) != std::string_view::npos) {  // a marker of its own: kept whole
        out.push_back('R');
        out.push_back(mode_byte);
        out.append(sql);
        return;
    }
    out.push_back('S');
    out.push_back(mode_byte);
    lexer lx(sql, mode);
    std::size_t copied = 0;
    for (token t = lx.next(); t.k != kind::end; t = lx.next()) {
        if (t.k != kind::literal) continue;
        const auto start = lx.start_of_last();
        out.append(sql.substr(copied, start - copied));
        out.push_back(shape_marker);
        copied = t.end;
    }
    out.append(sql.substr(copied));
}

std::string normalize(std::string_view sql, lex_mode mode) {
    constexpr std::size_t cap = 4096;
    std::string out;
    lexer lx(sql, mode);
    int params = 0;
    bool glue_next = true;  // no space before the first token, nor after ( . [ :
    for (token t = lx.next(); t.k != kind::end; t = lx.next()) {
        const bool punct = t.k == kind::punct;
        const char c = punct ? t.text[0] : '\0';
        const bool glue =
            glue_next || (punct && std::string_view(",).;:[]").find(c) != std::string_view::npos);
        if (!glue) out += ' ';
        if (t.k == kind::literal) {
            out += '$';
            out += std::to_string(++params);
        } else if (t.k == kind::quoted) {
            out += '"';
            out += t.text;
            out += '"';
        } else {
            out += t.text;
        }
        glue_next = punct && std::string_view("(.[:").find(c) != std::string_view::npos;
        if (out.size() > cap) {
            out.resize(cap);
            out += " ...";
            break;
        }
    }
    return out;
}

std::string fingerprint(std::string_view normalized) {
    // Unquoted names fold to lower case, as PostgreSQL folds them.
    std::string folded(normalized);
    bool quoted = false;
    for (auto& c : folded) {
        if (c == '"') quoted = !quoted;
        if (!quoted) c = static_cast<char>(to_lower(static_cast<unsigned char>(c)));
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(folded.data()), folded.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

}  // namespace sidelight::dbproxy
