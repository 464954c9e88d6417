#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Switching a component's type: a higher layer that changes `type` drops what lower layers set for it.

const char* kSasBase = R"(backbone:
  type: sasrec
  heads: 4
  hidden: 32
data:
  target: {type: amazon_s3rec, name: Books, min_count: 3}
  sources:
    - {type: amazon_s3rec, name: Toys}
    - {type: amazon_s3rec, name: Games, min_count: 7}
split: {scheme: loo}
)";

TEST(ConfigTypeSwitch, AnIncludingFileThatSwitchesTheTypeDropsTheBaseParams) {
  const fs::path dir = write_files("include", {{"base.yaml", kSasBase},
                                               {"gru.yaml",
                                                "defaults: [base.yaml]\nbackbone: {type: gru4rec, "
                                                "layers: 2}\n"}});
  const ResolvedConfig r = resolve(Config::load((dir / "gru.yaml").string()));
  const ComponentConfig* b = r.component("backbone");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, "gru4rec");
  EXPECT_EQ(b->params.integer("layers"), 2);
  EXPECT_EQ(b->params.integer("hidden"), 64);  // the base's hidden: 32 was sasrec's, so it is dropped
  EXPECT_THAT(r.yaml, HasSubstr("backbone:\n  type: gru4rec\n  hidden: 64\n  layers: 2\n"));
  EXPECT_THAT(r.yaml, Not(HasSubstr("heads")));
  // Other components are untouched.
  EXPECT_EQ(r.component("data.target")->params.integer("min_count"), 3);
  fs::remove_all(dir);
}

TEST(ConfigTypeSwitch, AnOverrideThatSwitchesTheTypeDropsTheLowerParams) {
  // Before: "backbone.heads: unknown key" (the base's sasrec params checked against gru4rec).
  for (const std::string arg : {"backbone.type=gru4rec", "backbone={type: gru4rec}"}) {
    const Config c = Config::parse(kSasBase, "base.yaml", {arg, "backbone.layers=3"});
    const ResolvedConfig r = resolve(c);
    EXPECT_EQ(r.component("backbone")->type, "gru4rec") << arg;
    EXPECT_EQ(r.component("backbone")->params.integer("layers"), 3) << arg;
    EXPECT_EQ(r.component("backbone")->params.integer("hidden"), 64) << arg;
    EXPECT_THAT(r.yaml, Not(HasSubstr("heads"))) << arg;
    EXPECT_FALSE(c.location("backbone.heads").has_value()) << arg;
    EXPECT_EQ(c.location("backbone.type")->file, "<command line>") << arg;
  }
}

TEST(ConfigTypeSwitch, SwitchingAListSlotDropsOnlyThatEntry) {
  const ResolvedConfig r =
      resolve(Config::parse(kSasBase, "base.yaml", {"data.sources[1].type=movielens", "data.sources[1].path=x"}));
  const auto sources = r.components_at("data.sources");
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0]->type, "amazon_s3rec");
  EXPECT_EQ(sources[0]->params.str("name"), "Toys");
  EXPECT_EQ(sources[1]->type, "movielens");
  EXPECT_EQ(sources[1]->params.str("path"), "x");
  EXPECT_THAT(r.yaml, Not(HasSubstr("Games")));
  EXPECT_THAT(r.yaml, Not(HasSubstr("min_count: 7")));
}

TEST(ConfigTypeSwitch, TheSameTypeKeepsTheParams) {
  const fs::path dir = write_files(
      "same", {{"base.yaml", kSasBase}, {"child.yaml", "defaults: [base.yaml]\nbackbone: {type: sasrec}\n"}});
  for (const Config& c :
       {Config::load((dir / "child.yaml").string()), Config::parse(kSasBase, "base.yaml", {"backbone.type=sasrec"})}) {
    const ResolvedConfig r = resolve(c);
    EXPECT_EQ(r.component("backbone")->params.integer("heads"), 4);
    EXPECT_EQ(r.component("backbone")->params.integer("hidden"), 32);
  }
  fs::remove_all(dir);
}

TEST(ConfigTypeSwitch, AnExplicitNullOfAnUnknownKeyMeansUnset) {
  const std::string text = std::string(kSasBase) + "quantizer: {type: rq, dim: 4, ghost: ~}\n";
  const ResolvedConfig r = resolve(Config::parse(text, "q.yaml", {"backbone={type: gru4rec, heads: ~}"}));
  EXPECT_EQ(r.component("backbone")->type, "gru4rec");
  EXPECT_THAT(r.yaml, Not(HasSubstr("heads")));
  EXPECT_THAT(r.yaml, Not(HasSubstr("ghost")));
  // A set unknown key is still an error.
  EXPECT_THAT(config_error([&] {
                resolve(Config::parse(text, "q.yaml", {"backbone.type=gru4rec", "backbone.heads=2"}));
              }),
              HasSubstr("backbone.heads: unknown key"));
}

TEST(ConfigTypeSwitch, ANamedDatasetCountsAsItsType) {
  // As in the run schema, `catalog` is a host key of data sections (it records the name).
  const ConfigSchema schema =
      named_schema({param::integer("k_core", 0, "K-core").at_least(0), param::boolean("cache", true, "Cache"),
                    param::string("catalog", "", "Catalog name")});
  const std::string base = std::string(kNamedBase) + "data:\n  target: {catalog: books, k_core: 5}\n";
  // Another type over a named dataset: the catalog name and its keys go.
  const ResolvedConfig typed =
      Config::parse(base, "n.yaml", {"data.target={type: movielens}"}).resolve(test_registry(), schema);
  EXPECT_EQ(typed.component("data.target")->type, "movielens");
  EXPECT_EQ(typed.component("data.target")->params.integer("k_core"), 0);
  // Another catalog name: the same.
  const Config other = Config::parse(base, "n.yaml", {"data.target.catalog=broken"});
  EXPECT_FALSE(other.location("data.target.k_core").has_value());
  // The same name keeps the keys.
  const ResolvedConfig same =
      Config::parse(base, "n.yaml", {"data.target.catalog=books"}).resolve(test_registry(), schema);
  EXPECT_EQ(same.component("data.target")->params.integer("k_core"), 5);
  // A resolved named dataset (type and catalog both written) under a layer that names the same catalog.
  const ResolvedConfig again = Config::parse(same.yaml, "r.yaml", {"data.target={catalog: books, cache: false}"})
                                   .resolve(test_registry(), schema);
  EXPECT_EQ(again.component("data.target")->params.integer("k_core"), 5);
  EXPECT_FALSE(again.component("data.target")->params.flag("cache"));
}

}  // namespace
}  // namespace xrec::config_test
