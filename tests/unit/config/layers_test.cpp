// Layers: includes, merge rules, where each value was set (core/src/config/layers.cpp, includes.cpp).
#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Layers

TEST(ConfigLoad, LayersMergeInOrderAndDeeply) {
  const Config c = Config::load(fixture("layered.yaml"));
  const YAML::Node& r = c.root();
  EXPECT_FALSE(r["defaults"].IsDefined());                 // consumed
  EXPECT_EQ(r["name"].as<std::string>(), "layered");       // the file itself
  EXPECT_EQ(r["seed"].as<int>(), 3);                       // base/common.yaml
  EXPECT_EQ(r["train"]["lr"].as<double>(), 0.002);         // file over base/model.yaml
  EXPECT_EQ(r["train"]["epochs"].as<int>(), 7);            // base/data.yaml (later) over base/model.yaml
  EXPECT_EQ(r["train"]["loss"].as<std::string>(), "bce");  // base/common.yaml, kept by the deep merge
  EXPECT_EQ(r["backbone"]["type"].as<std::string>(), "sasrec");
  EXPECT_EQ(r["backbone"]["hidden"].as<int>(), 64);
  EXPECT_EQ(r["backbone"]["heads"].as<int>(), 2);
  ASSERT_TRUE(r["data"]["sources"].IsSequence());
  EXPECT_EQ(r["data"]["sources"].size(), 2u);
}

TEST(ConfigLoad, RecordsWhereEachFinalValueWasSet) {
  const Config c = Config::load(fixture("layered.yaml"));
  EXPECT_EQ(c.location("train.lr")->str(), at("layered.yaml", "lr:"));
  EXPECT_EQ(c.location("train.epochs")->str(), at("base/data.yaml", "epochs:"));
  EXPECT_EQ(c.location("train.loss")->str(), at("base/common.yaml", "loss:"));
  // Includes are relative to the including file: base/common.yaml names model.yaml = base/model.yaml.
  EXPECT_EQ(c.location("backbone.heads")->str(), at("base/model.yaml", "heads:"));
  EXPECT_EQ(c.location("data.sources[1].type")->str(), at("base/data.yaml", "type: movielens"));
  EXPECT_EQ(c.location("data.sources[1]")->str(), at("base/data.yaml", "type: movielens"));
  EXPECT_FALSE(c.location("defaults").has_value());
  EXPECT_FALSE(c.location("train.nothing").has_value());
}

TEST(ConfigLoad, SequencesReplaceInsteadOfMerging) {
  const Config c = Config::parse(
      "defaults: [" + fixture("base/data.yaml") + "]\ndata:\n  sources:\n    - type: movielens\n", "inline.yaml");
  ASSERT_EQ(c.root()["data"]["sources"].size(), 1u);
  EXPECT_EQ(c.root()["data"]["target"]["name"].as<std::string>(), "Scientific");  // maps still merge
  EXPECT_EQ(c.location("data.sources[0].type")->str(), "inline.yaml:4:7");
}

TEST(ConfigLoad, DiamondIncludesAreNotCycles) {
  // base/common.yaml includes base/model.yaml, which is then included again: allowed, later wins.
  const Config c = Config::parse(
      "defaults: [" + fixture("base/common.yaml") + ", " + fixture("base/model.yaml") + "]\n", "inline.yaml");
  EXPECT_EQ(c.root()["seed"].as<int>(), 3);
  EXPECT_EQ(c.root()["train"]["loss"].as<std::string>(), "bce");
  EXPECT_EQ(c.location("train.lr")->str(), at("base/model.yaml", "lr:"));
}

TEST(ConfigLoad, IncludeCycleNamesTheChain) {
  const std::string msg = config_error([] { Config::load(fixture("errors/cycle_a.yaml")); });
  EXPECT_THAT(
      msg, HasSubstr(at("errors/cycle_b.yaml", "cycle_a.yaml") + ": include cycle: " + fixture("errors/cycle_a.yaml") +
                     " -> " + fixture("errors/cycle_b.yaml") + " -> " + fixture("errors/cycle_a.yaml")));
}

TEST(ConfigLoad, MissingIncludeNamesTheChain) {
  std::string msg = config_error([] { Config::load(fixture("errors/missing_include.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/missing_include.yaml", "../base/nope.yaml") +
                             ": cannot read included config file '" + fixture("base/nope.yaml") + "'"));
  EXPECT_THAT(msg, HasSubstr("No such file or directory"));

  msg = config_error([] { Config::load(fixture("errors/nested_missing.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/includes_missing.yaml", "gone.yaml") + ": cannot read included"));
  EXPECT_THAT(msg, HasSubstr("(include chain: " + fixture("errors/nested_missing.yaml") + " -> " +
                             fixture("errors/includes_missing.yaml") + " -> " + fixture("errors/gone.yaml") + ")"));
}

TEST(ConfigLoad, MissingFile) {
  const std::string msg = config_error([] { Config::load(fixture("nope.yaml")); });
  EXPECT_THAT(msg, HasSubstr("cannot read config file '" + fixture("nope.yaml") + "': No such file"));
}

TEST(ConfigLoad, SyntaxErrorHasTheFilePosition) {
  std::string msg = config_error([] { Config::load(fixture("errors/syntax_error.yaml")); });
  // The list on line 3 is never closed: yaml-cpp stops at the ':' of the next key, read as a list item.
  EXPECT_THAT(msg, HasSubstr(at("errors/syntax_error.yaml", ": 3") + ": YAML syntax error: end of sequence flow "
                                                                     "not found"));

  msg = config_error([] { Config::load(fixture("errors/includes_syntax_error.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/syntax_error.yaml", ": 3") + ": YAML syntax error: "));
  EXPECT_THAT(msg, HasSubstr("(include chain: " + fixture("errors/includes_syntax_error.yaml") + " -> " +
                             fixture("errors/syntax_error.yaml") + ")"));
}

TEST(ConfigLoad, DuplicateKeysAreErrors) {
  const std::string msg = config_error([] { Config::load(fixture("errors/duplicate_key.yaml")); });
  EXPECT_THAT(msg, HasSubstr(fixture("errors/duplicate_key.yaml") + ":4:3: train.lr: duplicate key (first set at " +
                             fixture("errors/duplicate_key.yaml") + ":2:3)"));
}

TEST(ConfigLoad, TopLevelMustBeAMap) {
  EXPECT_THAT(config_error([] { Config::parse("- a\n- b\n", "list.yaml"); }),
              HasSubstr("list.yaml:1:1: a config file must be a map of keys, found a list"));
  EXPECT_THAT(config_error([] { Config::parse("a.b: 1\n", "dotted.yaml"); }),
              HasSubstr("dotted.yaml:1:1: a.b: a key must be a non-empty name without '.'"));
  EXPECT_THAT(config_error([] { Config::parse("defaults: 5\n", "inc.yaml"); }),
              HasSubstr("inc.yaml:1:1: cannot read included config file '5'"));
  EXPECT_THAT(config_error([] { Config::parse("defaults: {a: 1}\n", "inc.yaml"); }),
              HasSubstr("inc.yaml:1:1: defaults: expected a list of YAML files to include, found a map"));
  EXPECT_TRUE(Config::parse("", "empty.yaml").root().IsMap());
}

}  // namespace
}  // namespace xrec::config_test
