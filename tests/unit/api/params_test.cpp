#include "xrec/api/params.hpp"

#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

using namespace xrec;

TEST(ParamSpec, ChecksTypeRangeAndChoices) {
  auto hidden = param::integer("hidden", 64, "Hidden size").range(1, 4096);
  EXPECT_EQ(hidden.check(Value(128)), "");
  EXPECT_EQ(hidden.check(Value(0)), "int in [1, 4096]");
  EXPECT_EQ(hidden.check(Value(1.5)), "int in [1, 4096]");
  EXPECT_EQ(hidden.check(Value("64")), "int in [1, 4096]");
  auto lr = param::real("lr", 1e-3, "Learning rate").at_least(0);
  EXPECT_EQ(lr.check(Value(1)), "");  // an int is a valid float
  EXPECT_EQ(lr.check(Value(-0.1)), "float >= 0");
  auto loss = param::string("loss", "ce", "Loss").one_of({"ce", "bce"});
  EXPECT_EQ(loss.check(Value("bce")), "");
  EXPECT_EQ(loss.check(Value("mse")), "string, one of {ce, bce}");
  auto ks = param::int_list("ks", {10}, "Cut-offs").range(1, 100);
  EXPECT_EQ(ks.check(Value(std::vector<int64_t>{5, 10})), "");
  EXPECT_NE(ks.check(Value(std::vector<int64_t>{0})), "");
  EXPECT_NE(ks.check(Value(5)), "");
}

TEST(ParamSpec, ExclusiveLowerBound) {
  auto share = param::real("share", 1.0, "A share").range(0, 1).above(0);
  EXPECT_EQ(share.check(Value(1)), "");
  EXPECT_EQ(share.check(Value(0.001)), "");
  EXPECT_EQ(share.check(Value(0.0)), "float in (0, 1]");
  EXPECT_EQ(share.check(Value(1.5)), "float in (0, 1]");
  auto positive = param::real("scale", 1.0, "Scale").above(0);
  EXPECT_EQ(positive.check(Value(0.0)), "float > 0");
  EXPECT_EQ(positive.at_least(0).check(Value(0.0)), "");  // at_least makes the bound inclusive again
}

TEST(ParamSpec, RequiredHasNoDefault) {
  auto p = param::required("path", ParamType::String, "File");
  EXPECT_TRUE(p.required());
  EXPECT_FALSE(param::string("name", "", "x").required());
}

TEST(Params, DefaultsAndAccessErrorsNameTheOwner) {
  ParamSpecs specs = {param::integer("hidden", 64, ""), param::string("norm", "post", ""),
                      param::required("path", ParamType::String, "")};
  Params p = Params::defaults(specs, "backbone (sasrec)");
  EXPECT_EQ(p.integer("hidden"), 64);
  EXPECT_EQ(p.str("norm"), "post");
  EXPECT_FALSE(p.has("path"));
  try {
    p.integer("hiden");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backbone (sasrec)"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hiden"), std::string::npos);
  }
}
