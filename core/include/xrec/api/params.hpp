#pragma once
// Parameter specifications and validated parameter values. One ParamSpec list per factory drives
// config validation, `xrec plugins inspect`, generated docs and the flattened params of the run store.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/export.hpp"
#include "xrec/api/value.hpp"

namespace xrec {

struct XREC_API ParamSpec {
  std::string name;
  ParamType type = ParamType::String;
  Value default_value;              // null means the parameter is required
  std::optional<double> min, max;   // bounds for numbers (and for every element of lists), inclusive
  bool min_exclusive = false;       // ... except min with above(): a value must exceed it
  std::vector<std::string> choices; // allowed strings (String / StringList), empty = any
  std::string doc;

  bool required() const { return default_value.is_null(); }

  // Fluent builders: param::integer("hidden", 64, "Hidden size").range(1, 4096)
  ParamSpec& range(double lo, double hi) { min = lo; max = hi; min_exclusive = false; return *this; }
  ParamSpec& at_least(double lo) { min = lo; min_exclusive = false; return *this; }
  // Strictly greater than lo (a share in (0, 1]: .range(0, 1).above(0)).
  ParamSpec& above(double lo) { min = lo; min_exclusive = true; return *this; }
  ParamSpec& one_of(std::vector<std::string> c) { choices = std::move(c); return *this; }

  // Checks one value against type, range and choices. Returns an empty string when valid, else
  // what was expected ("an integer in [1, 4096]").
  std::string check(const Value& v) const;
  // "int in [1, 4096]", "string, one of {bce, ce}": the one-line type description used by inspect.
  std::string describe_type() const;
};

namespace param {
XREC_API ParamSpec boolean(std::string name, bool def, std::string doc);
XREC_API ParamSpec integer(std::string name, int64_t def, std::string doc);
XREC_API ParamSpec real(std::string name, double def, std::string doc);
XREC_API ParamSpec string(std::string name, std::string def, std::string doc);
XREC_API ParamSpec int_list(std::string name, std::vector<int64_t> def, std::string doc);
XREC_API ParamSpec real_list(std::string name, std::vector<double> def, std::string doc);
XREC_API ParamSpec string_list(std::string name, std::vector<std::string> def, std::string doc);
// A parameter with no default: the config must set it.
XREC_API ParamSpec required(std::string name, ParamType type, std::string doc);
}  // namespace param

using ParamSpecs = std::vector<ParamSpec>;

// Validated values for one component, defaults filled in. Accessors throw xrec::Error naming the
// component and key when a plugin asks for a key its spec does not declare.
class XREC_API Params {
 public:
  Params() = default;
  Params(std::string owner, std::map<std::string, Value> values)
      : owner_(std::move(owner)), values_(std::move(values)) {}

  // Fills defaults from specs; no validation (the config layer validates). Handy in tests and plugins.
  static Params defaults(const ParamSpecs& specs, std::string owner = "");

  const Value& at(const std::string& key) const;
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool flag(const std::string& key) const { return at(key).as_bool(); }
  int64_t integer(const std::string& key) const { return at(key).as_int(); }
  double real(const std::string& key) const { return at(key).as_float(); }
  const std::string& str(const std::string& key) const { return at(key).as_string(); }
  const std::vector<int64_t>& int_list(const std::string& key) const { return at(key).as_int_list(); }
  std::vector<double> real_list(const std::string& key) const { return at(key).as_float_list(); }
  const std::vector<std::string>& str_list(const std::string& key) const { return at(key).as_string_list(); }

  void set(const std::string& key, Value v) { values_[key] = std::move(v); }
  const std::map<std::string, Value>& values() const { return values_; }
  const std::string& owner() const { return owner_; }

 private:
  std::string owner_;  // "backbone (sasrec)": used in error messages
  std::map<std::string, Value> values_;
};

}  // namespace xrec
