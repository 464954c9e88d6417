// Canonical YAML, hash and flat params (core/src/config/canonical.cpp).
#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Canonical YAML, hash and flat params

TEST(ConfigCanonical, StableAndIndependentOfKeyOrderAndSpelling) {
  const ResolvedConfig a = resolve(Config::load(fixture("full.yaml")));
  const ResolvedConfig b = resolve(Config::load(fixture("reordered.yaml")));
  const ResolvedConfig again = resolve(Config::load(fixture("full.yaml")));
  EXPECT_EQ(a.yaml, again.yaml);
  EXPECT_EQ(a.hash, again.hash);
  EXPECT_EQ(a.yaml, b.yaml);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.hash.size(), 64u);
  EXPECT_EQ(a.hash.find_first_not_of("0123456789abcdef"), std::string::npos);

  const ResolvedConfig changed = resolve(Config::load(fixture("full.yaml"), {"train.lr=0.002"}));
  EXPECT_NE(changed.hash, a.hash);
}

TEST(ConfigCanonical, EveryKeyResolvedAndSorted) {
  const ResolvedConfig r = resolve(Config::load(fixture("full.yaml")));
  const std::string plugins = fs::absolute(fixture("plugins_here")).lexically_normal().generic_string();
  const std::string expected = R"(backbone:
  type: sasrec
  act: gelu
  dropout: 0.2
  heads: 2
  hidden: 64
data:
  sources:
    - type: movielens
      path: ml-1m
      weights: [1.0, 0.5]
    - type: amazon_s3rec
      min_count: 3
      name: Office
  target:
    type: amazon_s3rec
    min_count: 5
    name: Scientific
eval:
  ks: [5, 10]
  metrics: [ndcg, hr]
name: full
plugin_paths: [)" + plugins + R"(]
seed: 7
split:
  scheme: ratio
  valid: 0.1
train:
  amp: false
  epochs: 20
  loss: ce
  lr: 0.001
)";
  EXPECT_EQ(r.yaml, expected);
}

TEST(ConfigCanonical, ResolvedYamlReadsBackToItself) {
  const ResolvedConfig r = resolve(Config::load(fixture("full.yaml"), {"name=\"0042\"", "backbone.act=relu"}));
  EXPECT_THAT(r.yaml, HasSubstr("name: \"0042\"\n"));  // a string that looks like a number stays a string
  const ResolvedConfig back = resolve(Config::parse(r.yaml, "resolved.yaml"));
  EXPECT_EQ(back.yaml, r.yaml);
  EXPECT_EQ(back.hash, r.hash);
}

TEST(ConfigCanonical, FlatParams) {
  const ResolvedConfig r = resolve(Config::load(fixture("full.yaml")));
  auto value = [&](const std::string& key) -> std::string {
    for (auto& [k, v] : r.flat)
      if (k == key) return v;
    return "<absent>";
  };
  EXPECT_EQ(value("train.lr"), "0.001");
  EXPECT_EQ(value("train.amp"), "false");
  EXPECT_EQ(value("backbone.type"), "sasrec");
  EXPECT_EQ(value("backbone.hidden"), "64");
  EXPECT_EQ(value("data.sources[1].name"), "Office");
  EXPECT_EQ(value("data.sources[0].weights"), "[1.0, 0.5]");
  EXPECT_EQ(value("eval.metrics"), "[ndcg, hr]");
  EXPECT_EQ(value("name"), "full");
  EXPECT_EQ(value("seed"), "7");
  EXPECT_EQ(value("data.sources"), "<absent>");  // only leaves
  EXPECT_EQ(value("defaults"), "<absent>");
  // Same order as the YAML: each component's type first, the rest sorted.
  ASSERT_GE(r.flat.size(), 2u);
  EXPECT_EQ(r.flat[0].first, "backbone.type");
  EXPECT_EQ(r.flat[1].first, "backbone.act");
  for (auto& [k, v] : r.flat) EXPECT_THAT(k, Not(HasSubstr("..")));
}

}  // namespace
}  // namespace xrec::config_test
