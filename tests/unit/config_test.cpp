#include "xrec/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "xrec/registry.hpp"

namespace xrec {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(XREC_TEST_FIXTURES) + "/configs/" + name; }

// "line:col" (1-based) of the first occurrence of `needle` in a fixture file, so tests check the positions
// the loader reports against the file itself.
std::string pos_of(const std::string& name, const std::string& needle) {
  std::ifstream in(fixture(name));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (auto col = line.find(needle); col != std::string::npos)
      return std::to_string(n) + ":" + std::to_string(col + 1);
  ADD_FAILURE() << "'" << needle << "' not found in " << name;
  return "?";
}

// "<fixture path>:line:col" of `needle`.
std::string at(const std::string& name, const std::string& needle) {
  return fixture(name) + ":" + pos_of(name, needle);
}

// The message of the ConfigError `f` throws (fails the test if it throws nothing or something else).
std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing was thrown";
  return "";
}

size_t line_count(const std::string& s) { return s.empty() ? 0 : std::count(s.begin(), s.end(), '\n') + 1; }

template <class T>
Factory<T> no_factory() {
  return [](const Params&, const PluginContext&) { return std::shared_ptr<T>(); };
}

// A registry with a few fake components: only their param specs matter to the config layer.
const Registry& test_registry() {
  static const Registry registry = [] {
    Registry r;
    Component sasrec;
    sasrec.kind = Kind::Backbone;
    sasrec.name = "sasrec";
    sasrec.params = {param::integer("hidden", 64, "Hidden size").range(1, 4096),
                     param::integer("heads", 2, "Attention heads").at_least(1),
                     param::real("dropout", 0.1, "Dropout").range(0, 1),
                     param::string("act", "gelu", "Activation").one_of({"gelu", "relu"})};
    sasrec.set_factory<Backbone>(no_factory<Backbone>());
    r.add(sasrec);
    Component gru;
    gru.kind = Kind::Backbone;
    gru.name = "gru4rec";
    gru.params = {param::integer("hidden", 64, "Hidden size"), param::integer("layers", 1, "Layers")};
    gru.set_factory<Backbone>(no_factory<Backbone>());
    r.add(gru);
    Component amazon;
    amazon.kind = Kind::Dataset;
    amazon.name = "amazon_s3rec";
    amazon.params = {param::required("name", ParamType::String, "Category"),
                     param::integer("min_count", 5, "Minimum interactions").at_least(1)};
    amazon.set_factory<Dataset>(no_factory<Dataset>());
    r.add(amazon);
    Component ml;
    ml.kind = Kind::Dataset;
    ml.name = "movielens";
    ml.params = {param::string("path", "ml-1m", "Folder"), param::real_list("weights", {1.0}, "Weights")};
    ml.set_factory<Dataset>(no_factory<Dataset>());
    r.add(ml);
    Component rq;
    rq.kind = Kind::Quantizer;
    rq.name = "rq";
    rq.params = {param::integer("codebooks", 4, "Codebooks").range(1, 16),
                 param::required("dim", ParamType::Int, "Code dimension")};
    rq.set_factory<Quantizer>(no_factory<Quantizer>());
    r.add(rq);
    return r;
  }();
  return registry;
}

const ConfigSchema& test_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.sections[""] = {param::string("name", "run", "Run name"),
                      param::integer("seed", 0, "Seed").at_least(0)};
    s.sections["train"] = {param::real("lr", 0.001, "Learning rate").at_least(0),
                           param::integer("epochs", 10, "Epochs").range(1, 1000),
                           param::string("loss", "ce", "Loss").one_of({"bce", "ce"}),
                           param::boolean("amp", false, "Mixed precision")};
    s.sections["eval"] = {
        param::int_list("ks", {10, 20}, "Cut-offs").at_least(1),
        param::string_list("metrics", {"ndcg", "hr"}, "Metrics").one_of({"ndcg", "hr", "mrr"})};
    s.sections["split"] = {param::required("scheme", ParamType::String, "Split").one_of({"loo", "ratio"}),
                           param::real("valid", 0.1, "Validation share").range(0, 1)};
    s.slots = {{"backbone", Kind::Backbone, true, false, "Sequence encoder", {}, {}, {}},
               {"data.target", Kind::Dataset, true, false, "Target domain", {}, {}, {}},
               {"data.sources", Kind::Dataset, false, true, "Source domains", {}, {}, {}},
               {"quantizer", Kind::Quantizer, false, false, "Item code quantizer", {}, {}, {}}};
    return s;
  }();
  return schema;
}

ResolvedConfig resolve(const Config& c) { return c.resolve(test_registry(), test_schema()); }

// A small valid config for inline tests.
const char* kMinimal = R"(name: mini
backbone:
  type: sasrec
data:
  target:
    type: amazon_s3rec
    name: Books
split:
  scheme: loo
)";

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
      "defaults: [" + fixture("base/data.yaml") + "]\ndata:\n  sources:\n    - type: movielens\n",
      "inline.yaml");
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
  EXPECT_THAT(msg, HasSubstr(at("errors/cycle_b.yaml", "cycle_a.yaml") +
                             ": include cycle: " + fixture("errors/cycle_a.yaml") + " -> " +
                             fixture("errors/cycle_b.yaml") + " -> " + fixture("errors/cycle_a.yaml")));
}

TEST(ConfigLoad, MissingIncludeNamesTheChain) {
  std::string msg = config_error([] { Config::load(fixture("errors/missing_include.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/missing_include.yaml", "../base/nope.yaml") +
                             ": cannot read included config file '" + fixture("base/nope.yaml") + "'"));
  EXPECT_THAT(msg, HasSubstr("No such file or directory"));

  msg = config_error([] { Config::load(fixture("errors/nested_missing.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/includes_missing.yaml", "gone.yaml") + ": cannot read included"));
  EXPECT_THAT(
      msg, HasSubstr("(include chain: " + fixture("errors/nested_missing.yaml") + " -> " +
                     fixture("errors/includes_missing.yaml") + " -> " + fixture("errors/gone.yaml") + ")"));
}

TEST(ConfigLoad, MissingFile) {
  const std::string msg = config_error([] { Config::load(fixture("nope.yaml")); });
  EXPECT_THAT(msg, HasSubstr("cannot read config file '" + fixture("nope.yaml") + "': No such file"));
}

TEST(ConfigLoad, SyntaxErrorHasTheFilePosition) {
  std::string msg = config_error([] { Config::load(fixture("errors/syntax_error.yaml")); });
  // The list on line 3 is never closed: yaml-cpp stops at the ':' of the next key, read as a list item.
  EXPECT_THAT(msg,
              HasSubstr(at("errors/syntax_error.yaml", ": 3") + ": YAML syntax error: end of sequence flow "
                                                                "not found"));

  msg = config_error([] { Config::load(fixture("errors/includes_syntax_error.yaml")); });
  EXPECT_THAT(msg, HasSubstr(at("errors/syntax_error.yaml", ": 3") + ": YAML syntax error: "));
  EXPECT_THAT(msg, HasSubstr("(include chain: " + fixture("errors/includes_syntax_error.yaml") + " -> " +
                             fixture("errors/syntax_error.yaml") + ")"));
}

TEST(ConfigLoad, DuplicateKeysAreErrors) {
  const std::string msg = config_error([] { Config::load(fixture("errors/duplicate_key.yaml")); });
  EXPECT_THAT(
      msg, HasSubstr(fixture("errors/duplicate_key.yaml") + ":4:3: train.lr: duplicate key (first set at " +
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
  const Config c =
      Config::load(fixture("layered.yaml"),
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

  EXPECT_THAT(
      config_error([] { Config::load(fixture("layered.yaml"), {"data.sources[5].type=movielens"}); }),
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
  const std::string with_quantizer =
      std::string(kMinimal) + "quantizer: {type: rq, dim: 4}\ntrain: {lr: 0.5}\n";
  const ResolvedConfig r =
      resolve(Config::parse(with_quantizer, "inline.yaml", {"quantizer=null", "train.lr=~"}));
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

// ---------------------------------------------------------------------------------------------------------
// Validation

TEST(ConfigResolve, UnknownKeysPointAtTheFileThatSetThemAfterMerging) {
  const Config c = Config::load(fixture("errors/unknown_keys.yaml"));
  const std::string msg = config_error([&] { resolve(c); });
  const std::string f = "errors/unknown_keys.yaml";
  EXPECT_THAT(
      msg, HasSubstr(at("errors/typo_base.yaml", "epocs") +
                     ": train.epocs: unknown key; did you mean 'epochs'? (valid: amp, epochs, loss, lr)\n"));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "hiden") + ": backbone.hiden: unknown key; did you mean 'hidden'? (valid: act, "
                                         "dropout, heads, hidden, type)"));
  EXPECT_THAT(
      msg, HasSubstr(at(f, "trian") + ": trian: unknown key; did you mean 'train'? (valid: backbone, data, "
                                      "eval, name, plugin_paths, quantizer, seed, split, train)"));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "min_cnt") + ": data.target.min_cnt: unknown key; did you mean 'min_count'? "
                                           "(valid: min_count, name, type)"));
  EXPECT_THAT(msg, HasSubstr(at(f, "extra") + ": data.extra: unknown key (valid: sources, target)"));
  EXPECT_EQ(line_count(msg), 5u) << msg;
}

TEST(ConfigResolve, WrongTypesAndValues) {
  const std::string msg = config_error([] { resolve(Config::load(fixture("errors/wrong_types.yaml"))); });
  const std::string f = "errors/wrong_types.yaml";
  EXPECT_THAT(msg, HasSubstr(at(f, "seed") + ": seed: expected int >= 0, found -1"));
  EXPECT_THAT(msg, HasSubstr(at(f, "lr") + ": train.lr: expected float >= 0, found \"abc\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "epochs") + ": train.epochs: expected int in [1, 1000], found 2.5"));
  EXPECT_THAT(msg, HasSubstr(at(f, "amp") + ": train.amp: expected bool, found \"yes\""));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "loss") + ": train.loss: expected string, one of {bce, ce}, found \"mse\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "hidden") + ": backbone.hidden: expected int in [1, 4096], found 0"));
  // Quoted numbers are strings: a typo'd YAML type, not a number.
  EXPECT_THAT(msg,
              HasSubstr(at(f, "dropout") + ": backbone.dropout: expected float in [0, 1], found \"0.1\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "ks") + ": eval.ks: expected list<int> >= 1, found [5, x]"));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "metrics") + ": eval.metrics: expected list<string>, one of {ndcg, hr, mrr}, "
                                           "found \"ndcg\""));
  EXPECT_EQ(line_count(msg), 9u) << msg;
  // One problem a line, in file order.
  EXPECT_EQ(msg.rfind(at(f, "seed") + ": seed:", 0), 0u) << msg;
  EXPECT_LT(msg.find("train.lr:"), msg.find("backbone.hidden:"));
  EXPECT_LT(msg.find("backbone.dropout:"), msg.find("eval.ks:"));
}

TEST(ConfigResolve, IntsAreNotFloatsButFloatsAcceptInts) {
  const std::string msg = config_error([] {
    resolve(Config::parse(kMinimal, "inline.yaml", {"train.epochs=1e2", "backbone.dropout=1", "train.lr=1"}));
  });
  EXPECT_THAT(msg, HasSubstr("<command line>:1:1: train.epochs: expected int in [1, 1000], found 1e2"));
  EXPECT_EQ(line_count(msg), 1u) << msg;
  const ResolvedConfig r =
      resolve(Config::parse(kMinimal, "inline.yaml", {"backbone.dropout=1", "train.lr=1"}));
  EXPECT_EQ(r.component("backbone")->params.at("dropout"), Value(1.0));  // stored as a float
  EXPECT_EQ(r.section("train").at("lr"), Value(1.0));
}

TEST(ConfigResolve, MapsAreNeverValues) {
  const std::string msg = config_error([] {
    resolve(Config::parse(kMinimal, "inline.yaml", {"train.lr={a: 1}", "eval.ks=[[1]]", "name=[a]"}));
  });
  EXPECT_THAT(msg, HasSubstr("train.lr: expected float >= 0, found a map {a: 1}"));
  EXPECT_THAT(msg, HasSubstr("eval.ks: expected list<int> >= 1, found [[1]]"));
  EXPECT_THAT(msg, HasSubstr("name: expected string, found [a]"));
}

TEST(ConfigResolve, MissingRequiredAndUnknownTypes) {
  const std::string msg = config_error([] { resolve(Config::load(fixture("errors/missing.yaml"))); });
  const std::string file = fixture("errors/missing.yaml");
  const std::string f = "errors/missing.yaml";
  EXPECT_THAT(msg, HasSubstr(file + ": backbone: missing required backbone: a map with 'type: NAME' (one of: "
                                    "gru4rec, sasrec)\n"));
  EXPECT_THAT(msg, HasSubstr(at(f, "target") + ": data.target: missing required key 'type' (one of: "
                                               "amazon_s3rec, movielens)"));
  EXPECT_THAT(
      msg, HasSubstr(at(f, "type: amazn") + ": data.sources[0].type: unknown dataset 'amazn'; did you mean "
                                            "'amazon_s3rec'? (known: amazon_s3rec, movielens)"));
  EXPECT_THAT(msg, HasSubstr(file + ": split: missing required section (it must set: scheme)"));
  EXPECT_EQ(line_count(msg), 4u) << msg;
}

TEST(ConfigResolve, MissingRequiredParamInAComponentAndASection) {
  const std::string msg = config_error([] {
    resolve(Config::parse(kMinimal, "inline.yaml",
                          {"quantizer.type=rq", "split.scheme=~", "data.target.name=~"}));
  });
  // The quantizer map was created on the command line; `split` and `data.target` are the file's.
  EXPECT_THAT(msg, HasSubstr("<command line>:1:1: quantizer: missing required key 'dim' (int)"));
  EXPECT_THAT(
      msg, HasSubstr("inline.yaml:8:1: split: missing required key 'scheme' (string, one of {loo, ratio})"));
  EXPECT_THAT(msg, HasSubstr("inline.yaml:5:3: data.target: missing required key 'name' (string)"));
  EXPECT_EQ(line_count(msg), 3u) << msg;
}

TEST(ConfigResolve, WrongYamlKindsForSectionsAndSlots) {
  const std::string msg = config_error([] { resolve(Config::load(fixture("errors/wrong_kinds.yaml"))); });
  const std::string f = "errors/wrong_kinds.yaml";
  EXPECT_THAT(msg,
              HasSubstr(at(f, "train") + ": train: expected a map of settings (keys: lr, epochs, loss, amp), "
                                         "found 5"));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "backbone") + ": backbone: expected a map with 'type: NAME' and the backbone's "
                                            "parameters, found \"sasrec\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "type: [") + ": data.target.type: expected the name of a dataset, found "
                                                "[amazon_s3rec]"));
  EXPECT_THAT(msg,
              HasSubstr(at(f, "sources") + ": data.sources: expected a list of datasets, each a map with "
                                           "'type: NAME', found a map {type: movielens}"));
  EXPECT_EQ(line_count(msg), 4u) << msg;

  EXPECT_THAT(
      config_error([] { resolve(Config::parse(std::string(kMinimal) + "eval: [1]\n", "inline.yaml")); }),
      HasSubstr("inline.yaml:10:1: eval: expected a map of settings (keys: ks, metrics), found [1]"));
  EXPECT_THAT(config_error([] { resolve(Config::parse(kMinimal, "inline.yaml", {"data=3"})); }),
              HasSubstr("<command line>:1:1: data: expected a map with keys sources, target, found 3"));
}

TEST(ConfigResolve, UnknownComponentTypeSuggestsTheNearest) {
  const std::string msg =
      config_error([] { resolve(Config::parse(kMinimal, "inline.yaml", {"backbone.type=sasrecc"})); });
  EXPECT_EQ(msg,
            "<command line>:1:1: backbone.type: unknown backbone 'sasrecc'; did you mean 'sasrec'? (known: "
            "gru4rec, sasrec)");
}

TEST(ConfigResolve, PluginPathsOfTheWrongKind) {
  const std::string msg =
      config_error([] { resolve(Config::parse(kMinimal, "inline.yaml", {"plugin_paths={a: 1}"})); });
  EXPECT_THAT(msg, HasSubstr("<command line>:1:1: plugin_paths: expected a folder or plugin library path"));
}

TEST(ConfigResolve, DefaultsAreFilledAndComponentsListed) {
  const ResolvedConfig r = resolve(Config::load(fixture("layered.yaml")));
  const Params& train = r.section("train");
  EXPECT_EQ(train.owner(), "section 'train'");
  EXPECT_DOUBLE_EQ(train.real("lr"), 0.002);
  EXPECT_EQ(train.integer("epochs"), 7);
  EXPECT_EQ(train.str("loss"), "bce");
  EXPECT_FALSE(train.flag("amp"));                                              // default
  EXPECT_EQ(r.section("eval").int_list("ks"), (std::vector<int64_t>{10, 20}));  // absent section: defaults
  EXPECT_EQ(r.section("").str("name"), "layered");
  EXPECT_EQ(r.section("").integer("seed"), 3);
  EXPECT_THROW(r.section("nope"), Error);

  const ComponentConfig* backbone = r.component("backbone");
  ASSERT_NE(backbone, nullptr);
  EXPECT_EQ(backbone->kind, Kind::Backbone);
  EXPECT_EQ(backbone->type, "sasrec");
  EXPECT_EQ(backbone->params.owner(), "backbone (sasrec)");
  EXPECT_EQ(backbone->params.integer("hidden"), 64);
  EXPECT_EQ(backbone->params.integer("heads"), 2);
  EXPECT_DOUBLE_EQ(backbone->params.real("dropout"), 0.1);
  EXPECT_EQ(backbone->params.str("act"), "gelu");
  EXPECT_FALSE(backbone->params.has("type"));

  EXPECT_EQ(r.component("data.target")->params.str("name"), "Scientific");
  const auto sources = r.components_at("data.sources");
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0]->path, "data.sources[0]");
  EXPECT_EQ(sources[0]->params.owner(), "data.sources[0] (amazon_s3rec)");
  EXPECT_EQ(sources[1]->type, "movielens");
  EXPECT_EQ(sources[1]->params.str("path"), "ml-1m");
  EXPECT_EQ(sources[1]->params.real_list("weights"), (std::vector<double>{1.0}));
  EXPECT_EQ(r.component("quantizer"), nullptr);  // optional and absent
  EXPECT_TRUE(r.components_at("quantizer").empty());
}

TEST(ConfigPluginPaths, RelativeToTheFileThatSetThem) {
  const std::string here = fs::absolute(fixture("plugins_here")).lexically_normal().generic_string();
  EXPECT_EQ(Config::load(fixture("layered.yaml")).plugin_paths(),
            std::vector<std::string>{here});  // ../ of base/
  EXPECT_EQ(Config::load(fixture("full.yaml")).plugin_paths(), std::vector<std::string>{here});  // a string
  const std::string cwd = fs::current_path().generic_string();
  EXPECT_EQ(Config::load(fixture("full.yaml"), {"plugin_paths=[rel/dir, /abs/dir]"}).plugin_paths(),
            (std::vector<std::string>{cwd + "/rel/dir", "/abs/dir"}));
  EXPECT_TRUE(Config::parse(kMinimal).plugin_paths().empty());
  EXPECT_THAT(config_error([] { Config::parse("plugin_paths: [a, [b]]\n", "p.yaml").plugin_paths(); }),
              HasSubstr("p.yaml:1:19: plugin_paths[1]: expected a folder or plugin library path"));
}

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
  const ResolvedConfig r =
      resolve(Config::load(fixture("full.yaml"), {"name=\"0042\"", "backbone.act=relu"}));
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

TEST(ConfigSchemaTree, InconsistentSchemasAreProgrammingErrors) {
  ConfigSchema bad = test_schema();
  bad.slots.push_back({"backbone.inner", Kind::Quantizer, false, false, "", {}, {}, {}});
  const Config c = Config::parse(kMinimal);
  try {
    c.resolve(test_registry(), bad);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "a schema bug is not a config error: " << e.what();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("config schema: 'backbone.inner' lies inside another section or slot"));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Slot extensions: host keys common to every section of a slot, and plain names expanded to a section.

// test_schema() with two host keys for every data section and the names `books` and `broken` (whose
// expansion has a bad value) for them.
ConfigSchema named_schema(ParamSpecs common = {param::integer("k_core", 0, "K-core").at_least(0),
                                               param::boolean("cache", true, "Cache")}) {
  ConfigSchema s = test_schema();
  for (auto& slot : s.slots) {
    if (slot.kind != Kind::Dataset) continue;
    slot.common = common;
    slot.expand_name = [](const std::string& name) -> std::optional<YAML::Node> {
      if (name == "books") return YAML::Load("{type: amazon_s3rec, name: Books, min_count: 3}");
      if (name == "broken") return YAML::Load("{type: amazon_s3rec, name: Broken, min_count: zero}");
      if (name == "explodes") throw InputError("catalog file is unreadable");
      if (name == "scalar") return YAML::Load("amazon_s3rec");
      return std::nullopt;
    };
    slot.known_names = [] { return std::vector<std::string>{"books", "broken"}; };
  }
  return s;
}

const char* kNamedBase = R"(backbone:
  type: sasrec
split:
  scheme: loo
)";

TEST(ConfigSlots, CommonKeysAreValidatedFilledAndRecorded) {
  const ConfigSchema schema = named_schema();
  const Config c = Config::parse(std::string(kNamedBase) +
                                     "data:\n  target: {type: amazon_s3rec, name: Books, k_core: 5}\n"
                                     "  sources:\n    - type: movielens\n",
                                 "inline.yaml");
  const ResolvedConfig r = c.resolve(test_registry(), schema);
  const ComponentConfig* target = r.component("data.target");
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->params.integer("k_core"), 5);
  EXPECT_TRUE(target->params.flag("cache"));
  EXPECT_EQ(target->params.integer("min_count"), 5);  // the component's own default, filled as before
  const ComponentConfig* source = r.component("data.sources[0]");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->params.integer("k_core"), 0);
  EXPECT_THAT(r.yaml, HasSubstr("    k_core: 5\n"));
  auto flat = [&](const std::string& key) {
    for (auto& [k, v] : r.flat)
      if (k == key) return v;
    return std::string("<absent>");
  };
  EXPECT_EQ(flat("data.target.k_core"), "5");
  EXPECT_EQ(flat("data.sources[0].cache"), "true");
  EXPECT_EQ(flat("backbone.k_core"), "<absent>");  // only the slots that declare them
  // The canonical YAML resolves to itself with the common keys in it.
  EXPECT_EQ(Config::parse(r.yaml).resolve(test_registry(), schema).yaml, r.yaml);
}

TEST(ConfigSlots, CommonKeysAreCheckedLikeTheComponentsOwn) {
  const ConfigSchema schema = named_schema();
  const std::string msg = config_error([&] {
    Config::parse(std::string(kNamedBase) + "data:\n  target: {type: amazon_s3rec, name: B, k_cor: 5}\n"
                  "  sources:\n    - {type: movielens, k_core: -1, cache: maybe}\n",
                  "inline.yaml")
        .resolve(test_registry(), schema);
  });
  EXPECT_THAT(msg, HasSubstr("inline.yaml:6:41: data.target.k_cor: unknown key; did you mean 'k_core'? "
                             "(valid: cache, k_core, min_count, name, type)"));
  EXPECT_THAT(msg, HasSubstr("inline.yaml:8:25: data.sources[0].k_core: expected int >= 0, found -1"));
  EXPECT_THAT(msg, HasSubstr("inline.yaml:8:37: data.sources[0].cache: expected bool, found \"maybe\""));
  EXPECT_EQ(line_count(msg), 3u) << msg;
}

TEST(ConfigSlots, ACommonKeyAComponentAlsoDeclaresIsAnError) {
  const ConfigSchema schema = named_schema({param::integer("min_count", 1, "Clashes with amazon_s3rec")});
  const std::string msg =
      config_error([&] { Config::parse(kMinimal, "inline.yaml").resolve(test_registry(), schema); });
  EXPECT_EQ(msg,
            "inline.yaml:6:5: data.target.type: dataset 'amazon_s3rec' declares a parameter 'min_count', which "
            "is also a host key of every data.target section; the plugin must rename it");
}

TEST(ConfigSlots, PlainNamesExpandToTheirSection) {
  const ConfigSchema schema = named_schema();
  const Config c = Config::parse(std::string(kNamedBase) + "data:\n  target: books\n  sources: [books]\n",
                                 "inline.yaml");
  const ResolvedConfig r = c.resolve(test_registry(), schema);
  for (const char* path : {"data.target", "data.sources[0]"}) {
    const ComponentConfig* d = r.component(path);
    ASSERT_NE(d, nullptr) << path;
    EXPECT_EQ(d->type, "amazon_s3rec");
    EXPECT_EQ(d->params.str("name"), "Books");
    EXPECT_EQ(d->params.integer("min_count"), 3);
    EXPECT_EQ(d->params.integer("k_core"), 0);  // common keys are filled for expanded sections too
  }
  EXPECT_THAT(r.yaml, HasSubstr("  target:\n    type: amazon_s3rec\n    cache: true\n"));
  // The canonical YAML spells the expansion out, so it resolves without the name.
  EXPECT_EQ(Config::parse(r.yaml).resolve(test_registry(), schema).yaml,
            r.yaml);
  // A name given on the command line works the same.
  const ResolvedConfig o =
      Config::parse(kMinimal, "inline.yaml", {"data.target=books"}).resolve(test_registry(), schema);
  EXPECT_EQ(o.component("data.target")->params.str("name"), "Books");
}

TEST(ConfigSlots, UnknownAndBrokenNamesPointAtTheName) {
  const ConfigSchema schema = named_schema();
  auto error = [&](const std::string& name) {
    return config_error([&] {
      Config::parse(std::string(kNamedBase) + "data:\n  target: " + name + "\n", "inline.yaml")
          .resolve(test_registry(), schema);
    });
  };
  EXPECT_EQ(error("bokos"),
            "inline.yaml:6:3: data.target: unknown dataset name 'bokos'; did you mean 'books'? (known: books, "
            "broken); or give a map with 'type: NAME' and the parameters");
  // Problems inside an expansion are reported at the name: the user wrote nothing else.
  EXPECT_EQ(error("broken"), "inline.yaml:6:3: data.target.min_count: expected int >= 1, found \"zero\"");
  EXPECT_EQ(error("explodes"),
            "inline.yaml:6:3: data.target: cannot expand the name 'explodes': catalog file is unreadable");
  EXPECT_EQ(error("scalar"),
            "inline.yaml:6:3: data.target: the name 'scalar' expands to a scalar, expected a map with 'type:'");
  EXPECT_THAT(error("[books]"), HasSubstr("data.target: expected a map with 'type: NAME' and the dataset's "
                                          "parameters, or a known name, found [books]"));
}

TEST(ConfigSlots, WithoutExpansionAPlainNameIsAnError) {
  const std::string msg = config_error([] {
    resolve(Config::parse(std::string(kNamedBase) + "data:\n  target: books\n", "inline.yaml"));
  });
  EXPECT_EQ(msg, "inline.yaml:6:3: data.target: expected a map with 'type: NAME' and the dataset's parameters, "
                 "found \"books\"");
}

TEST(SourceLocation, Str) {
  EXPECT_EQ((SourceLocation{"configs/q.yaml", 12, 5}).str(), "configs/q.yaml:12:5");
  EXPECT_EQ((SourceLocation{"configs/q.yaml", 0, 0}).str(), "configs/q.yaml");
}

}  // namespace
}  // namespace xrec
