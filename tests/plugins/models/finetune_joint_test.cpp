// finetune and joint run by the real `xrec` binary on a synthetic family (a target and two sources): what
// each finetune policy freezes, re-initialises and carries over is checked on the stages' best checkpoints
// (<run folder>/pretrain-best.pt, finetune-best.pt), with weight decay on so that a frozen parameter that
// still reached the optimizer would move.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "e2e/harness.hpp"

using namespace xrec::test;

namespace {

std::string family(const std::string& transfer, const std::string& extra = "") {
  return "name: finetune-synthetic\nseed: 3\nthreads: 1\n"
         "data:\n"
         "  target: {type: synthetic, domain: 0, users: 150, items: 60, length: 10, seed: 1}\n"
         "  sources:\n"
         "    - {type: synthetic, domain: 1, users: 200, items: 70, length: 10, seed: 1, similarity: 0.9, name: s1}\n"
         "    - {type: synthetic, domain: 2, users: 200, items: 50, length: 10, seed: 1, similarity: 0.9, name: s2}\n"
         "backbone: {type: sasrec, hidden: 16, layers: 1, heads: 1, max_len: 12}\n"
         "transfer: {" + transfer + "}\n"
         "train: {epochs: 2, batch_size: 64, optimizer: adamw, weight_decay: 0.1, lr: 0.01}\n" + extra +
         "eval: {ks: [10]}\n";
}

// One tensor of a checkpoint, by its dotted parameter name (module archives nest by submodule).
torch::Tensor read(const std::string& file, const std::string& name) {
  torch::serialize::InputArchive archive;
  archive.load_from(file);
  torch::serialize::InputArchive* at = &archive;
  std::vector<torch::serialize::InputArchive> children;
  children.reserve(8);
  std::string rest = name;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    children.emplace_back();
    at->read(rest.substr(0, dot), children.back());
    at = &children.back();
  }
  torch::Tensor t;
  at->read(rest, t);
  return t;
}

struct Stages {
  std::string pretrain, finetune;
};

Stages run(TempDir& dir, const std::string& name, const std::string& transfer) {
  const std::string cfg = dir.write(name + ".yaml", family(transfer));
  const std::string db = dir.path(name + "/xrec.db");
  auto r = xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  EXPECT_EQ(r.code, 0) << r.output;
  const std::string folder = dir.path(name + "/xrec/1/");
  return {folder + "pretrain-best.pt", folder + "finetune-best.pt"};
}

bool same(const torch::Tensor& a, const torch::Tensor& b) { return torch::equal(a, b); }

}  // namespace

TEST(FinetuneStrategy, UnisrecFreezesTheEncoderAndTunesTheItemSide) {
  TempDir dir("finetune-unisrec");
  const Stages s = run(dir, "unisrec", "type: finetune, policy: unisrec");
  for (const char* p : {"backbone.positions", "backbone.layer0_q_weight", "backbone.layer0_ff1_bias",
                        "backbone.layer0_ln_ff_weight"})
    EXPECT_TRUE(same(read(s.pretrain, p), read(s.finetune, p))) << p << " moved although frozen";
  // The target's item table (model domain 2: after the two sources) was trained in the finetune stage.
  EXPECT_FALSE(same(read(s.pretrain, "item_encoder.items_2"), read(s.finetune, "item_encoder.items_2")));
  // A source's table is not trained on the target.
  EXPECT_TRUE(same(read(s.pretrain, "item_encoder.items_0"), read(s.finetune, "item_encoder.items_0")));
}

TEST(FinetuneStrategy, FullTunesEverythingFromThePretrainedWeights) {
  TempDir dir("finetune-full");
  const Stages s = run(dir, "full", "type: finetune, policy: full");
  EXPECT_FALSE(same(read(s.pretrain, "backbone.layer0_q_weight"), read(s.finetune, "backbone.layer0_q_weight")));
  // With a vanishing learning rate the finetune stage ends where it started: at the pre-trained weights
  // (a fresh model would differ by about init_std everywhere).
  TempDir still("finetune-still");
  const std::string cfg =
      still.write("s.yaml", family("type: finetune, policy: full", "stages: {finetune: {lr: 1.0e-12}}\n"));
  ASSERT_EQ(xrec_cmd("run '" + cfg + "' --db '" + still.path("s/xrec.db") + "'", "", still.root()).code, 0);
  const std::string f = still.path("s/xrec/1/");
  for (const char* p : {"backbone.layer0_q_weight", "backbone.positions"})
    EXPECT_TRUE(torch::allclose(read(f + "pretrain-best.pt", p), read(f + "finetune-best.pt", p), 0, 1e-6)) << p;
}

TEST(FinetuneStrategy, RelearnReinitialisesPositionsAndKeepsTheLayers) {
  TempDir dir("finetune-relearn");
  const Stages s = run(dir, "relearn", "type: finetune, policy: relearn");
  EXPECT_TRUE(same(read(s.pretrain, "backbone.layer0_q_weight"), read(s.finetune, "backbone.layer0_q_weight")));
  EXPECT_FALSE(same(read(s.pretrain, "backbone.positions"), read(s.finetune, "backbone.positions")));
}

TEST(FinetuneStrategy, ConfigOverridesThePolicy) {
  TempDir dir("finetune-override");
  const std::string cfg = dir.write(
      "o.yaml", family("type: finetune, policy: full", "stages: {finetune: {freeze: ['backbone.layer0_q_*']}}\n"));
  const std::string db = dir.path("o/xrec.db");
  ASSERT_EQ(xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root()).code, 0);
  const std::string f = dir.path("o/xrec/1/");
  EXPECT_TRUE(same(read(f + "pretrain-best.pt", "backbone.layer0_q_weight"),
                   read(f + "finetune-best.pt", "backbone.layer0_q_weight")));
  EXPECT_FALSE(same(read(f + "pretrain-best.pt", "backbone.layer0_k_weight"),
                    read(f + "finetune-best.pt", "backbone.layer0_k_weight")));
}

// relearn freezes the Transformer layers; a config that writes `freeze: []` for the stage, although that
// is the schema default, unfreezes them: a written stage key wins over the policy (docs/adr/0004-stages.md).
TEST(FinetuneStrategy, AStageKeyWrittenAtItsDefaultStillOverridesThePolicy) {
  TempDir dir("finetune-default");
  const std::string cfg =
      dir.write("d.yaml", family("type: finetune, policy: relearn", "stages: {finetune: {freeze: []}}\n"));
  auto r = xrec_cmd("run '" + cfg + "' --db '" + dir.path("d/xrec.db") + "'", "", dir.root());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("[finetune] trains with epochs 2, adamw lr 0.01 weight_decay 0.1, loss ce"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("freeze [], reinit [backbone.positions"), std::string::npos) << r.output;
  const std::string f = dir.path("d/xrec/1/");
  EXPECT_FALSE(same(read(f + "pretrain-best.pt", "backbone.layer0_q_weight"),
                    read(f + "finetune-best.pt", "backbone.layer0_q_weight")));
  // Without the key, relearn's own freeze applies (the log line says so).
  TempDir plain("finetune-policy");
  const std::string p = plain.write("p.yaml", family("type: finetune, policy: relearn"));
  r = xrec_cmd("run '" + p + "' --db '" + plain.path("p/xrec.db") + "'", "", plain.root());
  ASSERT_EQ(r.code, 0) << r.output;
  // (the policy keeps the patterns this model has: SASRec here has no final norm and no adapters)
  EXPECT_NE(r.output.find("freeze [backbone.layer*, backbone.input_norm_*], reinit [backbone.positions]"),
            std::string::npos)
      << r.output;
}

TEST(FinetuneStrategy, SourcesAreRequiredAndPoliciesAreChecked) {
  TempDir dir("finetune-bad");
  std::string text = family("type: finetune");
  text = text.substr(0, text.find("  sources:")) + text.substr(text.find("backbone:"));
  const std::string cfg = dir.write("nosrc.yaml", text);
  auto r = xrec_cmd("run '" + cfg + "' --db '" + dir.path("x.db") + "'", "", dir.root());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("has no data.sources"), std::string::npos) << r.output;
  const std::string bad = dir.write("bad.yaml", family("type: finetune, policy: relarn"));
  r = xrec_cmd("run '" + bad + "' --check", "", dir.root());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("relearn"), std::string::npos) << r.output;  // the valid choices are listed
}

TEST(JointStrategy, TrainsEveryDomainAndSelectsOnTheTarget) {
  TempDir dir("joint");
  const std::string cfg = dir.write("j.yaml", family("type: joint", "stages: {joint: {mix: uniform}}\n"));
  const std::string db = dir.path("j/xrec.db");
  auto r = xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  ASSERT_EQ(r.code, 0) << r.output;
  // One stage, validated every epoch on the target (the run's select metric), and final target metrics.
  EXPECT_EQ(one_value(db, "SELECT count(DISTINCT step) FROM metrics WHERE stage = 'joint' AND split = 'valid' "
                          "AND key = 'ndcg@10'"),
            "2");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM final_metrics WHERE split = 'test' AND key = 'ndcg@10'"), "1");
}
