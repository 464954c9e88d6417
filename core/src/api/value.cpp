#include "xrec/api/value.hpp"

#include <cmath>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/api/text.hpp"

namespace xrec {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::IntList: return "list<int>";
    case ParamType::FloatList: return "list<float>";
    case ParamType::StringList: return "list<string>";
  }
  return "?";
}

ParamType Value::type() const {
  switch (v_.index()) {
    case 1: return ParamType::Bool;
    case 2: return ParamType::Int;
    case 3: return ParamType::Float;
    case 4: return ParamType::String;
    case 5: return ParamType::IntList;
    case 6: return ParamType::FloatList;
    case 7: return ParamType::StringList;
    default: throw Error("value is null (no value was given)");
  }
}

namespace {
[[noreturn]] void wrong(const Value& v, const char* wanted) {
  throw Error(std::string("expected ") + wanted + ", found " + (v.is_null() ? "null" : printable(v.to_string())));
}

std::string quote(const std::string& s) {
  // Plain scalars read back as strings unless they look like something else; quote when unsure.
  bool plain = !s.empty();
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/'))
      plain = false;
  if (plain && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.' || s == "true" ||
                s == "false" || s == "null" || s == "~"))
    plain = false;
  if (plain) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string fmt_float(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  std::ostringstream os;
  os.precision(17);
  os << d;
  std::string s = os.str();
  // Keep a float recognisable as a float when it reads back.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  // Prefer the shortest representation that round-trips.
  for (int p = 1; p <= 17; ++p) {
    std::ostringstream t;
    t.precision(p);
    t << d;
    if (std::stod(t.str()) == d) {
      std::string r = t.str();
      if (r.find_first_of(".eE") == std::string::npos) r += ".0";
      return r;
    }
  }
  return s;
}

template <class T, class F>
std::string fmt_list(const std::vector<T>& v, F f) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + f(v[i]);
  return out + "]";
}
}  // namespace

bool Value::as_bool() const {
  if (auto p = std::get_if<bool>(&v_)) return *p;
  wrong(*this, "a bool");
}
int64_t Value::as_int() const {
  if (auto p = std::get_if<int64_t>(&v_)) return *p;
  wrong(*this, "an int");
}
double Value::as_float() const {
  if (auto p = std::get_if<double>(&v_)) return *p;
  if (auto p = std::get_if<int64_t>(&v_)) return static_cast<double>(*p);
  wrong(*this, "a float");
}
const std::string& Value::as_string() const {
  if (auto p = std::get_if<std::string>(&v_)) return *p;
  wrong(*this, "a string");
}
const std::vector<int64_t>& Value::as_int_list() const {
  if (auto p = std::get_if<std::vector<int64_t>>(&v_)) return *p;
  wrong(*this, "a list of ints");
}
std::vector<double> Value::as_float_list() const {
  if (auto p = std::get_if<std::vector<double>>(&v_)) return *p;
  if (auto p = std::get_if<std::vector<int64_t>>(&v_)) return std::vector<double>(p->begin(), p->end());
  wrong(*this, "a list of floats");
}
const std::vector<std::string>& Value::as_string_list() const {
  if (auto p = std::get_if<std::vector<std::string>>(&v_)) return *p;
  wrong(*this, "a list of strings");
}

std::string Value::to_string() const {
  switch (v_.index()) {
    case 0: return "null";
    case 1: return std::get<bool>(v_) ? "true" : "false";
    case 2: return std::to_string(std::get<int64_t>(v_));
    case 3: return fmt_float(std::get<double>(v_));
    case 4: return quote(std::get<std::string>(v_));
    case 5: return fmt_list(std::get<5>(v_), [](int64_t i) { return std::to_string(i); });
    case 6: return fmt_list(std::get<6>(v_), fmt_float);
    case 7: return fmt_list(std::get<7>(v_), quote);
  }
  return "?";
}

}  // namespace xrec
