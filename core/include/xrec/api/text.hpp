#pragma once
// Tokens echoed in error messages: a message must stay readable (and storable) whatever the input held,
// so a token is cut after a length limit and its non-printable bytes are escaped.
#include <cstddef>
#include <string>
#include <string_view>

#include "xrec/api/export.hpp"

namespace xrec {

// Bytes kept of a token before it is cut.
inline constexpr size_t kShownTokenBytes = 200;

// `token` made safe to print: bytes other than printable ASCII and UTF-8 continuation/lead bytes that
// form valid sequences are escaped (\n, \t, \r, \\, \xNN); a token longer than `max_bytes` keeps its
// first `max_bytes` bytes followed by "... (N bytes)". Never throws.
XREC_API std::string printable(std::string_view token, size_t max_bytes = kShownTokenBytes);

// printable(token) in single quotes (not named quoted(): std::quoted would be found by ADL): 'token'.
XREC_API std::string quote_token(std::string_view token, size_t max_bytes = kShownTokenBytes);

}  // namespace xrec
