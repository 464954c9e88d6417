// Validation against the schema and the components' specs (core/src/config/validate.cpp).
#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Validation

TEST(ConfigResolve, UnknownKeysPointAtTheFileThatSetThemAfterMerging) {
  const Config c = Config::load(fixture("errors/unknown_keys.yaml"));
  const std::string msg = config_error([&] { resolve(c); });
  const std::string f = "errors/unknown_keys.yaml";
  EXPECT_THAT(msg, HasSubstr(at("errors/typo_base.yaml", "epocs") +
                             ": train.epocs: unknown key; did you mean 'epochs'? (valid: amp, epochs, loss, lr)\n"));
  EXPECT_THAT(msg, HasSubstr(at(f, "hiden") + ": backbone.hiden: unknown key; did you mean 'hidden'? (valid: act, "
                                              "dropout, heads, hidden, type)"));
  EXPECT_THAT(msg, HasSubstr(at(f, "trian") + ": trian: unknown key; did you mean 'train'? (valid: backbone, data, "
                                              "eval, name, plugin_paths, quantizer, seed, split, train)"));
  EXPECT_THAT(msg, HasSubstr(at(f, "min_cnt") + ": data.target.min_cnt: unknown key; did you mean 'min_count'? "
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
  EXPECT_THAT(msg, HasSubstr(at(f, "loss") + ": train.loss: expected string, one of {bce, ce}, found \"mse\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "hidden") + ": backbone.hidden: expected int in [1, 4096], found 0"));
  // Quoted numbers are strings: a typo'd YAML type, not a number.
  EXPECT_THAT(msg, HasSubstr(at(f, "dropout") + ": backbone.dropout: expected float in [0, 1], found \"0.1\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "ks") + ": eval.ks: expected list<int> >= 1, found [5, x]"));
  EXPECT_THAT(msg, HasSubstr(at(f, "metrics") + ": eval.metrics: expected list<string>, one of {ndcg, hr, mrr}, "
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
  const ResolvedConfig r = resolve(Config::parse(kMinimal, "inline.yaml", {"backbone.dropout=1", "train.lr=1"}));
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
  EXPECT_THAT(msg, HasSubstr(at(f, "type: amazn") + ": data.sources[0].type: unknown dataset 'amazn'; did you mean "
                                                    "'amazon_s3rec'? (known: amazon_s3rec, movielens)"));
  EXPECT_THAT(msg, HasSubstr(file + ": split: missing required section (it must set: scheme)"));
  EXPECT_EQ(line_count(msg), 4u) << msg;
}

TEST(ConfigResolve, MissingRequiredParamInAComponentAndASection) {
  const std::string msg = config_error([] {
    resolve(Config::parse(kMinimal, "inline.yaml", {"quantizer.type=rq", "split.scheme=~", "data.target.name=~"}));
  });
  // The quantizer map was created on the command line; `split` and `data.target` are the file's.
  EXPECT_THAT(msg, HasSubstr("<command line>:1:1: quantizer: missing required key 'dim' (int)"));
  EXPECT_THAT(msg, HasSubstr("inline.yaml:8:1: split: missing required key 'scheme' (string, one of {loo, ratio})"));
  EXPECT_THAT(msg, HasSubstr("inline.yaml:5:3: data.target: missing required key 'name' (string)"));
  EXPECT_EQ(line_count(msg), 3u) << msg;
}

TEST(ConfigResolve, WrongYamlKindsForSectionsAndSlots) {
  const std::string msg = config_error([] { resolve(Config::load(fixture("errors/wrong_kinds.yaml"))); });
  const std::string f = "errors/wrong_kinds.yaml";
  EXPECT_THAT(msg, HasSubstr(at(f, "train") + ": train: expected a map of settings (keys: lr, epochs, loss, amp), "
                                              "found 5"));
  EXPECT_THAT(msg, HasSubstr(at(f, "backbone") + ": backbone: expected a map with 'type: NAME' and the backbone's "
                                                 "parameters, found \"sasrec\""));
  EXPECT_THAT(msg, HasSubstr(at(f, "type: [") + ": data.target.type: expected the name of a dataset, found "
                                                "[amazon_s3rec]"));
  EXPECT_THAT(msg, HasSubstr(at(f, "sources") + ": data.sources: expected a list of datasets, each a map with "
                                                "'type: NAME', found a map {type: movielens}"));
  EXPECT_EQ(line_count(msg), 4u) << msg;

  EXPECT_THAT(config_error([] { resolve(Config::parse(std::string(kMinimal) + "eval: [1]\n", "inline.yaml")); }),
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
  EXPECT_EQ(Config::load(fixture("layered.yaml")).plugin_paths(), std::vector<std::string>{here});  // ../ of base/
  EXPECT_EQ(Config::load(fixture("full.yaml")).plugin_paths(), std::vector<std::string>{here});     // a string
  const std::string cwd = fs::current_path().generic_string();
  EXPECT_EQ(Config::load(fixture("full.yaml"), {"plugin_paths=[rel/dir, /abs/dir]"}).plugin_paths(),
            (std::vector<std::string>{cwd + "/rel/dir", "/abs/dir"}));
  EXPECT_TRUE(Config::parse(kMinimal).plugin_paths().empty());
  EXPECT_THAT(config_error([] { Config::parse("plugin_paths: [a, [b]]\n", "p.yaml").plugin_paths(); }),
              HasSubstr("p.yaml:1:19: plugin_paths[1]: expected a folder or plugin library path"));
}

// ---------------------------------------------------------------------------------------------------------
// Slot extensions: host keys common to every section of a slot, and plain names expanded to a section.
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
    Config::parse(std::string(kNamedBase) +
                      "data:\n  target: {type: amazon_s3rec, name: B, k_cor: 5}\n"
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
  const Config c =
      Config::parse(std::string(kNamedBase) + "data:\n  target: books\n  sources: [books]\n", "inline.yaml");
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
  EXPECT_EQ(Config::parse(r.yaml).resolve(test_registry(), schema).yaml, r.yaml);
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
  const std::string msg =
      config_error([] { resolve(Config::parse(std::string(kNamedBase) + "data:\n  target: books\n", "inline.yaml")); });
  EXPECT_EQ(msg,
            "inline.yaml:6:3: data.target: expected a map with 'type: NAME' and the dataset's parameters, "
            "found \"books\"");
}

TEST(SourceLocation, Str) {
  EXPECT_EQ((SourceLocation{"configs/q.yaml", 12, 5}).str(), "configs/q.yaml:12:5");
  EXPECT_EQ((SourceLocation{"configs/q.yaml", 0, 0}).str(), "configs/q.yaml");
}

}  // namespace
}  // namespace xrec::config_test
