#pragma once
// A tiny streaming JSON writer for --json output and the store's JSON export: no dependency, always valid output
// (strings escaped, non-finite numbers written as null, commas placed by the writer).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "xrec/api/value.hpp"

namespace xrec::json {

// "text" with quotes, backslashes and control characters escaped (UTF-8 passes through unchanged).
inline std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// The shortest decimal that reads back as the same double (0.001, not 0.0010000000000000000208).
inline std::string number(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[32];
  if (d == std::floor(d) && std::fabs(d) < 1e15) {  // whole numbers as integers: 100, not 1e+02
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

class Writer {
 public:
  Writer& begin_object() { return open('{'); }
  Writer& end_object() { return close('}'); }
  Writer& begin_array() { return open('['); }
  Writer& end_array() { return close(']'); }

  Writer& key(const std::string& k) {
    separate();
    out_ += quote(k) + ":";
    after_key_ = true;
    return *this;
  }

  Writer& value(const std::string& s) { return raw(quote(s)); }
  Writer& value(const char* s) { return s ? raw(quote(s)) : null(); }
  Writer& value(bool b) { return raw(b ? "true" : "false"); }
  Writer& value(int64_t i) { return raw(std::to_string(i)); }
  Writer& value(int i) { return raw(std::to_string(i)); }
  Writer& value(double d) { return raw(number(d)); }
  Writer& null() { return raw("null"); }

  // A parameter value: null, a scalar or a list, as its JSON counterpart.
  Writer& value(const Value& v) {
    const auto& s = v.storage();
    switch (s.index()) {
      case 0: return null();
      case 1: return value(std::get<1>(s));
      case 2: return value(std::get<2>(s));
      case 3: return value(std::get<3>(s));
      case 4: return value(std::get<4>(s));
      case 5: return list(std::get<5>(s));
      case 6: return list(std::get<6>(s));
      case 7: return list(std::get<7>(s));
    }
    return null();
  }

  template <class T>
  Writer& list(const std::vector<T>& items) {
    begin_array();
    for (const T& item : items) value(item);
    return end_array();
  }

  // Shorthands for object members.
  template <class T>
  Writer& member(const std::string& k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }

 private:
  Writer& raw(const std::string& text) {
    separate();
    out_ += text;
    return *this;
  }
  Writer& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  Writer& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  // A comma before every element but the first of its container; none right after a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace xrec::json
