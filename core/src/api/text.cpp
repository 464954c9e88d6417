#include "xrec/api/text.hpp"

namespace xrec {

namespace {

// Length of a valid UTF-8 sequence starting at s[i] (2 to 4 bytes), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const size_t n = b > 0xF4 ? 0 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view token, size_t max_bytes) {
  const std::string_view head = token.substr(0, max_bytes);
  std::string out;
  out.reserve(head.size() + 16);
  static const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < head.size();) {
    const auto c = static_cast<unsigned char>(head[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (size_t n = c >= 0x80 ? utf8_length(head, i) : 0) {
      out.append(head.data() + i, n);  // a whole valid character (a sequence cut by the limit is escaped)
      i += n;
    } else {
      if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c == '\r') out += "\\r";
      else out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
      ++i;
    }
  }
  if (token.size() > max_bytes) out += "... (" + std::to_string(token.size()) + " bytes)";
  return out;
}

std::string quote_token(std::string_view token, size_t max_bytes) { return "'" + printable(token, max_bytes) + "'"; }

}  // namespace xrec
