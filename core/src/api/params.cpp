#include "xrec/api/params.hpp"

#include <sstream>

#include "xrec/api/errors.hpp"

namespace xrec {

namespace {
std::string num(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

std::string bounds(const ParamSpec& s) {
  if (s.min && s.max) return " in " + std::string(s.min_exclusive ? "(" : "[") + num(*s.min) + ", " + num(*s.max) + "]";
  if (s.min) return (s.min_exclusive ? " > " : " >= ") + num(*s.min);
  if (s.max) return " <= " + num(*s.max);
  return "";
}

std::string choice_list(const ParamSpec& s) {
  if (s.choices.empty()) return "";
  std::string out = ", one of {";
  for (size_t i = 0; i < s.choices.size(); ++i) out += (i ? ", " : "") + s.choices[i];
  return out + "}";
}

bool in_bounds(const ParamSpec& s, double x) {
  if (s.min && (s.min_exclusive ? x <= *s.min : x < *s.min)) return false;
  return !(s.max && x > *s.max);
}
bool in_choices(const ParamSpec& s, const std::string& x) {
  if (s.choices.empty()) return true;
  for (auto& c : s.choices)
    if (c == x) return true;
  return false;
}

ParamSpec make(std::string name, ParamType t, Value def, std::string doc) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = t;
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  return s;
}
}  // namespace

std::string ParamSpec::describe_type() const { return std::string(xrec::to_string(type)) + bounds(*this) + choice_list(*this); }

std::string ParamSpec::check(const Value& v) const {
  const std::string expected = describe_type();
  if (v.is_null()) return expected;
  ParamType t = v.type();
  bool type_ok = t == type || (type == ParamType::Float && t == ParamType::Int) ||
                 (type == ParamType::FloatList && t == ParamType::IntList);
  if (!type_ok) return expected;
  switch (type) {
    case ParamType::Int:
    case ParamType::Float:
      if (!in_bounds(*this, v.as_float())) return expected;
      break;
    case ParamType::IntList:
    case ParamType::FloatList:
      for (double x : v.as_float_list())
        if (!in_bounds(*this, x)) return expected;
      break;
    case ParamType::String:
      if (!in_choices(*this, v.as_string())) return expected;
      break;
    case ParamType::StringList:
      for (auto& x : v.as_string_list())
        if (!in_choices(*this, x)) return expected;
      break;
    case ParamType::Bool: break;
  }
  return "";
}

namespace param {
ParamSpec boolean(std::string n, bool d, std::string doc) { return make(std::move(n), ParamType::Bool, d, std::move(doc)); }
ParamSpec integer(std::string n, int64_t d, std::string doc) { return make(std::move(n), ParamType::Int, d, std::move(doc)); }
ParamSpec real(std::string n, double d, std::string doc) { return make(std::move(n), ParamType::Float, d, std::move(doc)); }
ParamSpec string(std::string n, std::string d, std::string doc) {
  return make(std::move(n), ParamType::String, std::move(d), std::move(doc));
}
ParamSpec int_list(std::string n, std::vector<int64_t> d, std::string doc) {
  return make(std::move(n), ParamType::IntList, std::move(d), std::move(doc));
}
ParamSpec real_list(std::string n, std::vector<double> d, std::string doc) {
  return make(std::move(n), ParamType::FloatList, std::move(d), std::move(doc));
}
ParamSpec string_list(std::string n, std::vector<std::string> d, std::string doc) {
  return make(std::move(n), ParamType::StringList, std::move(d), std::move(doc));
}
ParamSpec required(std::string n, ParamType t, std::string doc) { return make(std::move(n), t, Value(), std::move(doc)); }
}  // namespace param

Params Params::defaults(const ParamSpecs& specs, std::string owner) {
  std::map<std::string, Value> values;
  for (auto& s : specs)
    if (!s.required()) values[s.name] = s.default_value;
  return Params(std::move(owner), std::move(values));
}

const Value& Params::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end())
    throw Error("parameter '" + key + "' is not set" + (owner_.empty() ? "" : " for " + owner_) +
                " (is it declared in the component's ParamSpecs?)");
  return it->second;
}

}  // namespace xrec
