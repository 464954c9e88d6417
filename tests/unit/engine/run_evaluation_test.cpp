#include "xrec/engine/run_evaluation.hpp"

#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;

TEST(EvalOverrides, OnlyEvalKeysMayChange) {
  EXPECT_NO_THROW(check_eval_overrides({"eval.protocol=sampled", "eval.ks=[1,5]"}));
  try {
    check_eval_overrides({"eval.negatives=5", "train.lr=0.1"});
    FAIL() << "train.lr accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'train.lr' cannot change"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_eval_overrides({"evaluation.protocol=full"}), InputError);
  EXPECT_THROW(check_eval_overrides({"eval.=1"}), InputError);
  EXPECT_THROW(check_eval_overrides({"eval.protocol"}), InputError);
}
