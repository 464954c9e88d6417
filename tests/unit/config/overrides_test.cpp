// Command-line overrides (core/src/config/overrides.cpp).
#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Overrides

TEST(ConfigOverrides, ScalarsAreParsedAsYaml) {
  const Config c = Config::parse(kMinimal, "inline.yaml", {"train.lr=1e-3", "name=foo", "train.amp=true"});
  const ResolvedConfig r = resolve(c);
  EXPECT_DOUBLE_EQ(r.section("train").real("lr"), 0.001);
  EXPECT_TRUE(r.section("train").flag("amp"));
  EXPECT_EQ(r.section("").str("name"), "foo");
  EXPECT_EQ(c.location("train.lr")->str(), "<command line>:1:1");
  EXPECT_EQ(c.location("name")->str(), "<command line>:1:2");
  EXPECT_EQ(c.location("train")->str(), "<command line>:1:1");  // created by the first override
}

TEST(ConfigOverrides, ListsAndMapsAsValues) {
  const Config c = Config::parse(kMinimal, "inline.yaml",
                                 {"eval.ks=[5,10]", "backbone={hidden: 16}", "quantizer={type: rq, dim: 8}"});
  const ResolvedConfig r = resolve(c);
  EXPECT_EQ(r.section("eval").int_list("ks"), (std::vector<int64_t>{5, 10}));
  // A map value merges into the map it lands on, like a layer: `type` from the file stays.
  EXPECT_EQ(r.component("backbone")->type, "sasrec");
  EXPECT_EQ(r.component("backbone")->params.integer("hidden"), 16);
  EXPECT_EQ(c.location("backbone.type")->str(), "inline.yaml:3:3");
  EXPECT_EQ(c.location("backbone.hidden")->str(), "<command line>:1:2");
  ASSERT_NE(r.component("quantizer"), nullptr);
  EXPECT_EQ(r.component("quantizer")->params.integer("dim"), 8);
}

TEST(ConfigOverrides, IndexIntoLists) {
  const Config c = Config::load(fixture("layered.yaml"),
                                {"data.sources[1].type=amazon_s3rec", "data.sources[1].name=Books",
                                 "data.sources[2]={type: movielens, path: ml-20m}", "data.sources[0].min_count=2"});
  const ResolvedConfig r = resolve(c);
  const auto sources = r.components_at("data.sources");
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0]->params.integer("min_count"), 2);
  EXPECT_EQ(sources[0]->params.str("name"), "Office");
  EXPECT_EQ(sources[1]->type, "amazon_s3rec");
  EXPECT_EQ(sources[1]->params.str("name"), "Books");
  EXPECT_EQ(sources[2]->path, "data.sources[2]");
  EXPECT_EQ(sources[2]->params.str("path"), "ml-20m");
  EXPECT_EQ(c.location("data.sources[2].path")->str(), "<command line>:1:3");
  EXPECT_EQ(c.location("data.sources[0].name")->str(), at("base/data.yaml", "name: Office"));

  EXPECT_THAT(config_error([] { Config::load(fixture("layered.yaml"), {"data.sources[5].type=movielens"}); }),
              HasSubstr("<command line>:1:1: malformed override 'data.sources[5].type=movielens': index [5] is out "
                        "of range: 'data.sources' has 2 entries (use [2] to append one)"));
  EXPECT_THAT(config_error([] {
                Config::load(fixture("layered.yaml"), {"name=x", "train[0]=1"});
              }),
              HasSubstr("<command line>:1:2: malformed override 'train[0]=1': 'train' is a map, not a list"));
  EXPECT_THAT(config_error([] { Config::load(fixture("layered.yaml"), {"train.lr.x=1"}); }),
              HasSubstr("'train.lr' is a scalar, not a map, so it has no key 'x'"));
}

TEST(ConfigOverrides, NewKeysAreCreatedAndThenValidated) {
  const Config c = Config::parse(kMinimal, "inline.yaml", {"backbone.layers=3", "eval.extra.deep=1"});
  EXPECT_EQ(c.root()["backbone"]["layers"].as<int>(), 3);
  EXPECT_EQ(c.root()["eval"]["extra"]["deep"].as<int>(), 1);
  const std::string msg = config_error([&] { resolve(c); });
  EXPECT_THAT(msg, HasSubstr("<command line>:1:1: backbone.layers: unknown key (valid: act, dropout, heads, "
                             "hidden, type)"));
  EXPECT_THAT(msg, HasSubstr("<command line>:1:2: eval.extra: unknown key (valid: ks, metrics)"));
}

TEST(ConfigOverrides, NullRemovesWhatALowerLayerSet) {
  const std::string with_quantizer = std::string(kMinimal) + "quantizer: {type: rq, dim: 4}\ntrain: {lr: 0.5}\n";
  const ResolvedConfig r = resolve(Config::parse(with_quantizer, "inline.yaml", {"quantizer=null", "train.lr=~"}));
  EXPECT_EQ(r.component("quantizer"), nullptr);
  EXPECT_DOUBLE_EQ(r.section("train").real("lr"), 0.001);  // back to the default
}

TEST(ConfigOverrides, MalformedOverridesAreNamed) {
  struct Case {
    std::string arg, expected;
  } cases[] = {
      {"trainlr", "malformed override 'trainlr': expected KEY.PATH=VALUE"},
      {"=5", "malformed override '=5': empty key"},
      {"a..b=1", "malformed override 'a..b=1': empty or blank key at character 3"},
      {"train.=1", "malformed override 'train.=1': the key path ends with '.'"},
      {"data[x]=1", "malformed override 'data[x]=1': expected a list index like [0]"},
      {"train.lr=[1,", "malformed override 'train.lr=[1,': the value is not valid YAML"},
      {"defaults=[a.yaml]",
       "malformed override 'defaults=[a.yaml]': 'defaults' (included files) can only be set in a config "
       "file"},
      {"backbone={a.b: 1}", "malformed override 'backbone={a.b: 1}': the value has the key 'a.b'"},
  };
  for (const Case& c : cases) {
    const std::string msg = config_error([&] { Config::parse(kMinimal, "inline.yaml", {"name=ok", c.arg}); });
    EXPECT_THAT(msg, HasSubstr("<command line>:1:2: " + c.expected)) << c.arg;
  }
}

}  // namespace
}  // namespace xrec::config_test
