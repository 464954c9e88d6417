#pragma once
// A parameter value as plugins see it: one of a small set of scalar and list types, so plugins never
// depend on the YAML library.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "xrec/api/export.hpp"

namespace xrec {

enum class ParamType { Bool, Int, Float, String, IntList, FloatList, StringList };

XREC_API const char* to_string(ParamType t);

class XREC_API Value {
 public:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>>;
  Value() = default;
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::vector<int64_t> l) : v_(std::move(l)) {}
  Value(std::vector<double> l) : v_(std::move(l)) {}
  Value(std::vector<std::string> l) : v_(std::move(l)) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  // The ParamType this value holds; throws Error on null.
  ParamType type() const;
  const Storage& storage() const { return v_; }

  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;  // ints widen to float
  const std::string& as_string() const;
  const std::vector<int64_t>& as_int_list() const;
  std::vector<double> as_float_list() const;  // int lists widen
  const std::vector<std::string>& as_string_list() const;

  // YAML flow-style text: 64, 0.001, true, "abc", [5, 10, 20].
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  Storage v_;
};

}  // namespace xrec
