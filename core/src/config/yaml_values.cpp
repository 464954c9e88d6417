// YAML scalars to typed values. Plain scalars are read by YAML 1.2 core rules; quoted ones are strings.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "internal.hpp"

namespace xrec::config_detail {

bool is_quoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

bool parse_int(const std::string& s, int64_t& out) {
  const size_t start = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (s.size() == start || s.find_first_not_of("0123456789", start) != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_float(const std::string& s, double& out) {
  static const std::map<std::string, double> special = {
      {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},     {".INF", HUGE_VAL},     {"+.inf", HUGE_VAL},
      {"+.Inf", HUGE_VAL},  {"+.INF", HUGE_VAL},    {"-.inf", -HUGE_VAL},   {"-.Inf", -HUGE_VAL},
      {"-.INF", -HUGE_VAL}, {".nan", std::nan("")}, {".NaN", std::nan("")}, {".NAN", std::nan("")}};
  if (auto it = special.find(s); it != special.end()) {
    out = it->second;
    return true;
  }
  // strtod alone would also take "inf", "nan" and hex floats, which YAML reads as strings.
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos ||
      s.find_first_of("0123456789") == std::string::npos)
    return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE) return false;
  out = v;
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return out = false, true;
  return false;
}

// How a rejected YAML value is shown: numbers and bools as written, strings quoted, lists and maps in
// flow style (shortened).
std::string describe_found(const YAML::Node& n) {
  if (is_unset(n)) return "null";
  if (n.IsScalar()) {
    int64_t i;
    double d;
    bool b;
    const std::string& s = n.Scalar();
    if (!is_quoted(n) && (parse_int(s, i) || parse_float(s, d) || parse_bool(s, b))) return s;
    return "\"" + s + "\"";
  }
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  std::string text = e.c_str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return n.IsMap() ? "a map " + text : text;
}

// Shows a typed value that failed its range or choices: strings always quoted, so `found "mse"` reads the
// same whether the value came from YAML or from a default.
std::string describe_value(const Value& v) {
  if (auto s = std::get_if<std::string>(&v.storage())) return "\"" + *s + "\"";
  if (auto l = std::get_if<std::vector<std::string>>(&v.storage())) {
    std::vector<std::string> q;
    for (auto& s : *l) q.push_back("\"" + s + "\"");
    return "[" + join(q) + "]";
  }
  return v.to_string();
}

// One YAML scalar as one element of `type` (the element type for lists).
bool scalar_to(const YAML::Node& n, ParamType type, Value& out) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  const bool plain = !is_quoted(n);
  switch (type) {
    case ParamType::Bool: {
      bool b;
      if (!plain || !parse_bool(s, b)) return false;
      out = Value(b);
      return true;
    }
    case ParamType::Int:
    case ParamType::IntList: {
      int64_t i;
      if (!plain || !parse_int(s, i)) return false;
      out = Value(i);
      return true;
    }
    case ParamType::Float:
    case ParamType::FloatList: {
      // Ints are accepted and stored as floats, so `lr: 1` and `lr: 1.0` resolve (and hash) the same.
      int64_t i;
      double d;
      if (!plain) return false;
      if (parse_int(s, i))
        d = static_cast<double>(i);
      else if (!parse_float(s, d))
        return false;
      out = Value(d);
      return true;
    }
    case ParamType::String:
    case ParamType::StringList:
      // A plain `name: 2018` is meant as text; any scalar is accepted as a string.
      out = Value(s);
      return true;
  }
  return false;
}

// A YAML sequence whose every element converts to the list's element type.
namespace {

template <class T, class Get>
bool list_to(const YAML::Node& n, ParamType type, Value& out, Get get) {
  if (!n.IsSequence()) return false;
  std::vector<T> v;
  for (const auto& e : n) {
    Value x;
    if (!scalar_to(e, type, x)) return false;
    v.push_back((x.*get)());
  }
  out = Value(std::move(v));
  return true;
}

}  // namespace

bool to_value(const YAML::Node& n, ParamType type, Value& out) {
  switch (type) {
    case ParamType::Bool:
    case ParamType::Int:
    case ParamType::Float:
    case ParamType::String:
      return scalar_to(n, type, out);
    case ParamType::IntList:
      return list_to<int64_t>(n, type, out, &Value::as_int);
    case ParamType::FloatList:
      return list_to<double>(n, type, out, &Value::as_float);
    case ParamType::StringList:
      return list_to<std::string>(n, type, out, &Value::as_string);
  }
  return false;
}

}  // namespace xrec::config_detail
