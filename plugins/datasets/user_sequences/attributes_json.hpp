#pragma once
// A strict reader for S3-Rec's `*_item2attributes.json`: exactly one JSON object whose keys are item ids
// (strings) and whose values are arrays of integer attribute ids, e.g. {"4": [1, 2, 3], "83": [4, 5]}.
// Anything else is an xrec::InputError naming the file, line, column and byte offset. A full JSON library
// would accept shapes the plugin cannot use and report them later with less context.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xrec/api/errors.hpp"

namespace xrec::datasets {

struct ItemAttributes {
  std::string item;              // the key, unescaped
  std::vector<int64_t> values;   // as written (repeats kept)
  size_t line = 0;               // where the key starts, for later errors
};

class AttributesJsonReader {
 public:
  AttributesJsonReader(std::string_view text, std::string path) : s_(text), path_(std::move(path)) {}

  std::vector<ItemAttributes> read() {
    std::vector<ItemAttributes> out;
    std::unordered_map<std::string, size_t> key_line;
    skip_space();
    expect('{', "'{' opening the object of item ids");
    skip_space();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        skip_space();
        ItemAttributes entry;
        entry.line = line_;
        const size_t key_at = i_;
        if (peek() != '"') fail("a string item id (keys are quoted, e.g. \"4\")");
        entry.item = string();
        if (auto [it, fresh] = key_line.emplace(entry.item, entry.line); !fresh)
          fail_at(key_at, "item \"" + entry.item + "\" appears twice (first on line " + std::to_string(it->second) + ")");
        skip_space();
        expect(':', "':' after the item id");
        skip_space();
        expect('[', "'[' opening the array of attribute ids of item \"" + entry.item + "\"");
        skip_space();
        if (peek() == ']') {
          ++i_;
        } else {
          for (;;) {
            skip_space();
            entry.values.push_back(integer(entry.item));
            skip_space();
            if (peek() == ',') {
              ++i_;
              continue;
            }
            expect(']', "',' or ']' in the attribute ids of item \"" + entry.item + "\"");
            break;
          }
        }
        out.push_back(std::move(entry));
        skip_space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "',' or '}' after the attributes of item \"" + out.back().item + "\"");
        break;
      }
    }
    skip_space();
    if (i_ < s_.size()) fail("the end of the file after the object");
    return out;
  }

 private:
  int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : -1; }

  // Line breaks can only occur here (strings reject raw control characters), so the line count is kept here.
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) line_ += s_[i_++] == '\n';
  }

  void expect(char c, const std::string& what) {
    if (peek() != static_cast<unsigned char>(c)) fail(what);
    ++i_;
  }

  [[noreturn]] void fail_at(size_t at, const std::string& problem) const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < at && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw InputError(path_ + ":" + std::to_string(line) + ":" + std::to_string(col) + " (byte " + std::to_string(at) +
                     "): " + problem + " (expected a JSON object {\"item id\": [attribute ids], ...})");
  }

  [[noreturn]] void fail(const std::string& expected) const {
    std::string found;
    if (i_ >= s_.size())
      found = "the end of the file";
    else if (static_cast<unsigned char>(s_[i_]) < 0x20 || static_cast<unsigned char>(s_[i_]) >= 0x7f)
      found = "byte 0x" + hex(static_cast<unsigned char>(s_[i_]));
    else
      found = "'" + std::string(1, s_[i_]) + "'";
    fail_at(i_, "found " + found + ", expected " + expected);
  }

  static std::string hex(unsigned v) {
    const char* digits = "0123456789abcdef";
    return {digits[(v >> 4) & 15], digits[v & 15]};
  }

  // A JSON string at i_ (the opening quote), unescaped to UTF-8.
  std::string string() {
    const size_t open = i_++;
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail_at(open, "a string that is never closed");
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("a closing '\"' (control characters must be escaped in JSON strings)");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      ++i_;
      switch (peek()) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          ++i_;
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            if (peek() != '\\' || i_ + 1 >= s_.size() || s_[i_ + 1] != 'u') fail("'\\u' with the low half of a surrogate pair");
            i_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail_at(i_ - 4, "a low surrogate \\uDC00..\\uDFFF");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail_at(i_ - 4, "a lone low surrogate in a \\u escape");
          }
          utf8(cp, out);
          continue;  // hex4 moved past the digits
        }
        default: fail("an escape character (one of \" \\ / b f n r t u)");
      }
      ++i_;
    }
  }

  uint32_t hex4() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int c = peek();
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        fail("4 hex digits after \\u");
      ++i_;
    }
    return v;
  }

  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // A JSON integer: -?(0|[1-9][0-9]*), no fraction or exponent, within int64.
  int64_t integer(const std::string& item) {
    const size_t start = i_;
    const std::string what = "an integer attribute id of item \"" + item + "\"";
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++i_;
    }
    if (peek() < '0' || peek() > '9') fail(what);
    if (peek() == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')
      fail_at(i_, "a number with a leading zero; expected " + what);
    uint64_t v = 0;
    const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    while (peek() >= '0' && peek() <= '9') {
      const auto d = static_cast<uint64_t>(peek() - '0');
      if (v > (limit - d) / 10) fail_at(start, "a number outside the 64-bit integers; expected " + what);
      v = v * 10 + d;
      ++i_;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail_at(start, "a number that is not an integer; expected " + what);
    return negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  }

  std::string_view s_;
  std::string path_;
  size_t i_ = 0;
  size_t line_ = 1;  // line of i_ between tokens
};

// Reads `text` (the contents of `path`) as {"item id": [attribute ids], ...}.
inline std::vector<ItemAttributes> read_item_attributes(std::string_view text, const std::string& path) {
  return AttributesJsonReader(text, path).read();
}

}  // namespace xrec::datasets
