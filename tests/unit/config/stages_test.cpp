#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Stages: `train:` is every stage's default, `stages.<name>.<key>` overrides it key by key.

const ConfigSchema& staged_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s = test_schema();
    s.stage_section = "train";
    return s;
  }();
  return schema;
}

ResolvedConfig resolve_staged(const Config& c) { return c.resolve(test_registry(), staged_schema()); }

TEST(ConfigStages, EachStageIsTrainWithItsOwnKeysOver) {
  const std::string text = std::string(kMinimal) +
                           "train: {lr: 0.01, epochs: 20}\n"
                           "stages:\n"
                           "  pretrain: {epochs: 5}\n"
                           "  finetune: {lr: 0.0001, loss: bce}\n";
  const ResolvedConfig r = resolve_staged(Config::parse(text, "inline.yaml", {"stages.meta_1.amp=true"}));
  EXPECT_EQ(r.stage_names(), (std::vector<std::string>{"finetune", "meta_1", "pretrain"}));
  EXPECT_DOUBLE_EQ(r.stage("finetune").real("lr"), 0.0001);
  EXPECT_EQ(r.stage("finetune").integer("epochs"), 20);  // from train:
  EXPECT_EQ(r.stage("finetune").str("loss"), "bce");
  EXPECT_EQ(r.stage("pretrain").integer("epochs"), 5);
  EXPECT_DOUBLE_EQ(r.stage("pretrain").real("lr"), 0.01);
  EXPECT_EQ(r.stage("pretrain").str("loss"), "ce");  // train's default
  EXPECT_TRUE(r.stage("meta_1").flag("amp"));
  // A stage the config does not name trains with train: as it is.
  EXPECT_DOUBLE_EQ(r.stage("other").real("lr"), 0.01);
  EXPECT_EQ(r.stage("other").integer("epochs"), 20);
  // The config says which keys each stage writes itself (those win over a strategy's stage values).
  EXPECT_TRUE(r.stage_sets("finetune", "lr"));
  EXPECT_FALSE(r.stage_sets("finetune", "epochs"));
  EXPECT_FALSE(r.stage_sets("other", "lr"));
  // The canonical YAML and the flat params hold each stage's written keys only, not train:'s values.
  EXPECT_THAT(r.yaml, HasSubstr("stages:\n  finetune:\n    loss: bce\n    lr: 0.0001\n  meta_1:\n    amp: true\n"
                                "  pretrain:\n    epochs: 5\n"));
  auto flat = [&](const std::string& key) {
    for (auto& [k, v] : r.flat)
      if (k == key) return v;
    return std::string("<absent>");
  };
  EXPECT_EQ(flat("stages.finetune.lr"), "0.0001");
  EXPECT_EQ(flat("stages.finetune.epochs"), "<absent>");
  EXPECT_EQ(flat("stages.meta_1.amp"), "true");
  EXPECT_EQ(flat("train.epochs"), "20");
  // The stages change the hash: they are part of what the run does.
  EXPECT_NE(r.hash, resolve_staged(Config::parse(std::string(kMinimal) + "train: {lr: 0.01, epochs: 20}\n")).hash);
}

// Writing a train: default is the same as leaving it out; writing a stage key is not, even at the default
// value: it overrides what a strategy sets for that stage (docs/adr/0004-stages.md).
TEST(ConfigStages, AWrittenStageKeyCountsEvenAtTheDefault) {
  const ResolvedConfig none = resolve_staged(Config::parse(kMinimal));
  EXPECT_EQ(resolve_staged(Config::parse(std::string(kMinimal) + "train: {lr: 0.001}\n")).hash, none.hash);
  const ResolvedConfig at_default =
      resolve_staged(Config::parse(std::string(kMinimal) + "stages: {finetune: {lr: 0.001}}\n"));
  EXPECT_NE(at_default.hash, none.hash);
  EXPECT_TRUE(at_default.stage_sets("finetune", "lr"));
  EXPECT_DOUBLE_EQ(at_default.stage("finetune").real("lr"), none.stage("finetune").real("lr"));
  // An empty or null stage writes nothing: the same run as no stage.
  for (const char* text : {"stages: {finetune: {}}\n", "stages: {finetune: null}\n", "stages: {finetune: {lr: null}}\n"})
    EXPECT_EQ(resolve_staged(Config::parse(std::string(kMinimal) + text)).hash, none.hash) << text;
  // The canonical YAML read back writes the same keys: a stored config re-runs the same way.
  const ResolvedConfig again = resolve_staged(Config::parse(at_default.yaml));
  EXPECT_EQ(again.hash, at_default.hash);
  EXPECT_TRUE(again.stage_sets("finetune", "lr"));
  EXPECT_FALSE(again.stage_sets("finetune", "epochs"));
}

TEST(ConfigStages, NoStagesMeansNoStagesInTheYaml) {
  const ResolvedConfig r = resolve_staged(Config::parse(kMinimal));
  EXPECT_TRUE(r.stage_names().empty());
  EXPECT_THAT(r.yaml, Not(HasSubstr("stages")));
  EXPECT_EQ(r.yaml, resolve(Config::parse(kMinimal)).yaml);  // same hash as before stages existed
}

TEST(ConfigStages, StageKeysAreValidatedLikeTrainKeys) {
  const std::string text = std::string(kMinimal) +
                           "stages:\n"
                           "  finetune:\n"
                           "    lrr: 0.1\n"
                           "    epochs: 0\n"
                           "    loss: mse\n"
                           "    amp: maybe\n"
                           "  2nd: {lr: 0.1}\n"
                           "  meta: 3\n";
  const std::string msg = config_error([&] { resolve_staged(Config::parse(text, "s.yaml")); });
  EXPECT_THAT(msg, HasSubstr("s.yaml:12:5: stages.finetune.lrr: unknown key; did you mean 'lr'? (valid: amp, "
                             "epochs, loss, lr)"));
  EXPECT_THAT(msg, HasSubstr("s.yaml:13:5: stages.finetune.epochs: expected int in [1, 1000], found 0"));
  EXPECT_THAT(msg, HasSubstr("s.yaml:14:5: stages.finetune.loss: expected string, one of {bce, ce}, found \"mse\""));
  EXPECT_THAT(msg, HasSubstr("s.yaml:15:5: stages.finetune.amp: expected bool, found \"maybe\""));
  EXPECT_THAT(msg, HasSubstr("s.yaml:16:3: stages.2nd: a stage name must be an identifier"));
  EXPECT_THAT(msg, HasSubstr("s.yaml:17:3: stages.meta: expected a map of train keys"));
  // From the command line too, with the override's position.
  EXPECT_THAT(config_error([] { resolve_staged(Config::parse(kMinimal, "s.yaml", {"stages.ft.lr=-1"})); }),
              HasSubstr("<command line>:1:1: stages.ft.lr: expected float >= 0, found -1.0"));
  EXPECT_THAT(config_error([] { resolve_staged(Config::parse(std::string(kMinimal) + "stages: [a]\n")); }),
              HasSubstr("stages: expected a map of stage names"));
}

TEST(ConfigStages, WithoutAStageSectionStagesIsAnUnknownKey) {
  EXPECT_THAT(config_error([] { resolve(Config::parse(std::string(kMinimal) + "stages: {ft: {lr: 1}}\n")); }),
              HasSubstr("stages: unknown key"));
  ConfigSchema bad = test_schema();
  bad.stage_section = "nope";
  EXPECT_THROW(Config::parse(kMinimal).resolve(test_registry(), bad), Error);
}

}  // namespace
}  // namespace xrec::config_test
