# Writes the file IN into the C++ header OUT as the string_view NAME (namespace sidelight::agent),
# so the binary carries it and reads no file at run time. Bytes, not a raw string literal: the
# file may hold any delimiter.
#   cmake -DIN=page.html -DOUT=page_html.hpp -DNAME=status_page_html -P cmake/embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR size "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REPEAT "'....'," 16 line)  # (CMake's regex has no {n})
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
"#pragma once
// Generated from ${IN} by cmake/embed.cmake: edit that file, not this one.
#include <string_view>

namespace sidelight::agent {
inline constexpr char ${NAME}_bytes[] = {
    ${bytes}'\\0'};
inline constexpr std::string_view ${NAME}{${NAME}_bytes, ${size}};
}  // namespace sidelight::agent
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
