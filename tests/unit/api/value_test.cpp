#include "xrec/api/value.hpp"

#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

using xrec::ParamType;
using xrec::Value;

TEST(Value, TypesAndAccessors) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_EQ(Value(64).type(), ParamType::Int);
  EXPECT_EQ(Value(64).as_int(), 64);
  EXPECT_DOUBLE_EQ(Value(64).as_float(), 64.0);  // ints widen to floats
  EXPECT_EQ(Value(0.5).type(), ParamType::Float);
  EXPECT_THROW(Value(0.5).as_int(), xrec::Error);  // floats never narrow silently
  EXPECT_EQ(Value("ce").as_string(), "ce");
  EXPECT_EQ(Value(std::vector<int64_t>{5, 10}).as_float_list(), (std::vector<double>{5, 10}));
  EXPECT_THROW(Value(true).as_string(), xrec::Error);
  EXPECT_THROW(Value().type(), xrec::Error);
}

TEST(Value, YamlFlowText) {
  EXPECT_EQ(Value(true).to_string(), "true");
  EXPECT_EQ(Value(int64_t{-3}).to_string(), "-3");
  EXPECT_EQ(Value(0.001).to_string(), "0.001");
  EXPECT_EQ(Value(2.0).to_string(), "2.0");  // stays a float when read back
  EXPECT_EQ(Value("sasrec").to_string(), "sasrec");
  EXPECT_EQ(Value("a b").to_string(), "\"a b\"");
  EXPECT_EQ(Value("true").to_string(), "\"true\"");  // would read back as a bool
  EXPECT_EQ(Value("10").to_string(), "\"10\"");
  EXPECT_EQ(Value(std::vector<int64_t>{5, 10, 20}).to_string(), "[5, 10, 20]");
  EXPECT_EQ(Value(std::vector<std::string>{"x", "y z"}).to_string(), "[x, \"y z\"]");
  EXPECT_EQ(Value().to_string(), "null");
}

// Issue 12 item 14: a wrong-typed value is echoed cut and escaped (a 100 MB string was echoed whole).
TEST(Value, WrongTypeErrorsCutAndEscapeTheValue) {
  const std::string big(1'000'000, 'v');
  try {
    Value(big).as_int();
    ADD_FAILURE() << "expected an Error";
  } catch (const xrec::Error& e) {
    const std::string m = e.what();
    EXPECT_LT(m.size(), 300u);
    EXPECT_NE(m.find("... (1000000 bytes)"), std::string::npos) << m;
  }
  try {
    Value(std::string("a\x01")).as_int();
    ADD_FAILURE() << "expected an Error";
  } catch (const xrec::Error& e) {
    EXPECT_NE(std::string(e.what()).find("\\x01"), std::string::npos) << e.what();
  }
}
