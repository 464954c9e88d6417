#include "xrec/engine/trainer.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <map>

#include "support/tiny_model.hpp"
#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;
using xrec::testing::TinyModel;

namespace {
DomainData toy_data(const std::string& name, int64_t items, int64_t users) {
  DomainData d;
  d.name = name;
  d.num_items = items;
  for (int64_t u = 0; u < users; ++u) d.sequences.push_back({1 + u % items, 1 + (u + 1) % items, 1 + (u + 2) % items});
  return d;
}
Task task_of(const DomainData& d, const std::string& role = "target") {
  Task t;
  t.name = d.name;
  t.role = role;
  t.data = &d;
  t.train = d.sequences;
  return t;
}
BatchOptions small_batches() {
  BatchOptions o;
  o.max_len = 3;
  o.batch_size = 4;
  return o;
}
TrainHooks hooks_with(std::function<MetricMap(SequenceModel&)> validate) {
  TrainHooks h;
  h.validate = std::move(validate);
  h.record = [](const std::string&, const std::string&, int64_t, double) {};
  h.log = std::make_shared<spdlog::logger>("trainer_test");  // no sinks: silent
  return h;
}
std::vector<torch::Tensor> copy_params(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}
bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}
}  // namespace

TEST(Trainer, EarlyStoppingRestoresTheBestEpochsWeights) {
  auto data = toy_data("toy", 6, 12);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  const std::vector<double> scores = {0.1, 0.5, 0.3, 0.2, 0.9, 0.9};  // 0.9 never reached: stopped before
  std::vector<std::vector<torch::Tensor>> seen;
  auto hooks = hooks_with([&](SequenceModel& m) {
    seen.push_back(copy_params(m));
    return MetricMap{{"ndcg@10", scores[seen.size() - 1]}};
  });
  TrainOptions o;
  o.epochs = 6;
  o.patience = 2;
  o.lr = 0.05;
  TrainResult r = train_model(model, 0, "s", batches, o, hooks);
  EXPECT_EQ(r.epochs_run, 4);  // epochs 3 and 4 brought no gain: patience 2 ran out
  EXPECT_EQ(r.best_epoch, 1);
  EXPECT_DOUBLE_EQ(r.best_score, 0.5);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_FALSE(same(seen[1], seen[3]));  // the weights did move after the best epoch ...
  EXPECT_TRUE(same(copy_params(model), seen[1]));  // ... and the best epoch's are back
}

TEST(Trainer, LoglossIsMinimised) {
  auto data = toy_data("toy", 6, 8);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  const std::vector<double> scores = {0.7, 0.4, 0.6, 0.8};
  size_t call = 0;
  auto hooks = hooks_with([&](SequenceModel&) { return MetricMap{{"logloss", scores[call++]}}; });
  TrainOptions o;
  o.epochs = 4;
  o.select_metric = "logloss";
  TrainResult r = train_model(model, 0, "s", batches, o, hooks);
  EXPECT_EQ(r.best_epoch, 1);
  EXPECT_DOUBLE_EQ(r.best_score, 0.4);
}

TEST(BestTracker, DirectionPatienceAndRestore) {
  BestTracker up("hr@10", 2);
  EXPECT_TRUE(up.update(0.2, 0));
  EXPECT_FALSE(up.update(0.1, 1));
  EXPECT_FALSE(up.should_stop());
  EXPECT_FALSE(up.update(0.2, 2));  // equal is not better
  EXPECT_TRUE(up.should_stop());
  BestTracker down("logloss");
  EXPECT_TRUE(down.update(0.5, 0));
  EXPECT_TRUE(down.update(0.3, 1));
  EXPECT_FALSE(down.update(0.4, 2));
  EXPECT_EQ(down.best_step(), 1);

  TinyModel m(3);
  BestTracker t("mrr");
  t.update(1.0, 0, &m);
  auto saved = copy_params(m);
  {
    torch::NoGradGuard g;
    for (auto& p : m.parameters()) p.add_(1);
  }
  t.restore(m);
  EXPECT_TRUE(same(copy_params(m), saved));
}

// The defect: a parameter trained in an earlier stage keeps its gradient; switched off with
// requires_grad_(false) but still given to Adam with weight decay, it keeps moving.
TEST(Trainer, RequiresGradFalseAloneDoesNotFreezeUnderWeightDecay) {
  auto data = toy_data("toy", 6, 8);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  model.loss(0, batches.get(0)).backward();  // "an earlier stage"
  model.table->weight.requires_grad_(false);
  ASSERT_TRUE(model.table->weight.grad().defined());
  torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(0.01).weight_decay(0.1));
  const auto before = model.table->weight.detach().clone();
  adam.step();
  EXPECT_FALSE(torch::equal(before, model.table->weight));  // moved although "frozen"
}

TEST(Trainer, FrozenParametersNeverMoveEvenWithWeightDecay) {
  auto data = toy_data("toy", 6, 8);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  auto hooks = hooks_with([](SequenceModel&) { return MetricMap{{"ndcg@10", 0.0}}; });
  TrainOptions o;
  o.epochs = 1;
  o.weight_decay = 0.1;
  train_model(model, 0, "pretrain", batches, o, hooks);  // every parameter trained: grads are defined
  ASSERT_TRUE(model.table->weight.grad().defined());
  const auto items = model.table->weight.detach().clone();
  const auto head = model.head->weight.detach().clone();
  o.freeze = {"items.*"};
  o.epochs = 3;
  train_model(model, 0, "finetune", batches, o, hooks);
  EXPECT_TRUE(torch::equal(items, model.table->weight));
  EXPECT_FALSE(model.table->weight.grad().defined());
  EXPECT_FALSE(torch::equal(head, model.head->weight));
  // A later stage without the freeze trains them again.
  o.freeze = {};
  o.epochs = 1;
  train_model(model, 0, "again", batches, o, hooks);
  EXPECT_FALSE(torch::equal(items, model.table->weight));
}

TEST(Trainer, PatternsThatMatchNothingAreErrors) {
  TinyModel model(3);
  TrainOptions o;
  o.freeze = {"backbone.*"};
  EXPECT_THROW(prepare_stage(model, o, "s"), InputError);
  o.freeze = {"*"};
  EXPECT_THROW(prepare_stage(model, o, "s"), InputError);  // nothing left to train
  o.freeze = {};
  o.optimizer = "lbfgs";
  EXPECT_THROW(prepare_stage(model, o, "s"), InputError);
}

TEST(Trainer, OptimizerChoiceAndSgdStep) {
  auto data = toy_data("toy", 6, 8);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  TrainOptions o;
  o.optimizer = "adamw";
  EXPECT_NE(dynamic_cast<torch::optim::AdamW*>(prepare_stage(model, o, "s").get()), nullptr);
  o.optimizer = "adam";
  EXPECT_NE(dynamic_cast<torch::optim::Adam*>(prepare_stage(model, o, "s").get()), nullptr);
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.momentum = 0.9;
  auto opt = prepare_stage(model, o, "s");
  auto* sgd = dynamic_cast<torch::optim::SGD*>(opt.get());
  ASSERT_NE(sgd, nullptr);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(sgd->param_groups()[0].options()).momentum(), 0.9);
  // One plain SGD step: theta - lr * grad (momentum has no history yet).
  opt->zero_grad();
  model.loss(0, batches.get(0)).backward();
  const auto before = model.head->weight.detach().clone();
  const auto grad = model.head->weight.grad().clone();
  opt->step();
  EXPECT_TRUE(torch::allclose(model.head->weight, before - 0.1 * grad));
}

TEST(Trainer, ParameterGroupsGetTheirOwnLearningRate) {
  auto data = toy_data("toy", 6, 8);
  Task task = task_of(data);
  TinyModel model(6);
  TrainBatches batches(task, small_batches(), 1);
  TrainOptions o;
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.groups = {ParamGroup{"head.*", 0.0, std::nullopt}, ParamGroup{"items.*", 0.5, 0.01}};
  auto opt = prepare_stage(model, o, "s");
  ASSERT_EQ(opt->param_groups().size(), 2u);  // no parameter left for the stage's own group
  EXPECT_DOUBLE_EQ(opt->param_groups()[0].options().get_lr(), 0.0);
  EXPECT_DOUBLE_EQ(opt->param_groups()[1].options().get_lr(), 0.5);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(opt->param_groups()[1].options()).weight_decay(), 0.01);
  const auto head = model.head->weight.detach().clone();
  const auto items = model.table->weight.detach().clone();
  opt->zero_grad();
  model.loss(0, batches.get(0)).backward();
  const auto g = model.table->weight.grad().clone();
  opt->step();
  EXPECT_TRUE(torch::equal(head, model.head->weight));  // lr 0
  EXPECT_TRUE(torch::allclose(model.table->weight, items - 0.5 * (g + 0.01 * items)));
}

TEST(Trainer, ReinitByPattern) {
  TinyModel model(3);
  {
    torch::NoGradGuard g;
    model.head->bias.fill_(3);
  }
  TrainOptions o;
  o.reinit = {"head.bias"};
  prepare_stage(model, o, "s");
  EXPECT_TRUE(torch::equal(model.head->bias, torch::zeros_like(model.head->bias)));
}

TEST(Trainer, GlobMatch) {
  EXPECT_TRUE(glob_match("backbone.*", "backbone.layers.0.weight"));
  EXPECT_TRUE(glob_match("*.bias", "head.bias"));
  EXPECT_TRUE(glob_match("items?.weight", "items0.weight"));
  EXPECT_FALSE(glob_match("items.*", "head.weight"));
  EXPECT_FALSE(glob_match("head", "head.bias"));
  EXPECT_TRUE(glob_match("*", ""));
}

TEST(Trainer, InterleavedDomainsFollowTheMix) {
  std::mt19937_64 rng(5);
  auto count = [](const std::vector<size_t>& order, size_t d) { return std::count(order.begin(), order.end(), d); };
  auto prop = interleave({30, 10}, {1, 1}, "proportional", rng);
  EXPECT_EQ(prop.size(), 40u);
  EXPECT_EQ(count(prop, 0), 30);
  EXPECT_EQ(count(prop, 1), 10);
  EXPECT_EQ(interleave({3, 1}, {1, 1}, "round_robin", rng), (std::vector<size_t>{0, 1, 0, 0}));
  auto uni = interleave({9000, 1000}, {1, 1}, "uniform", rng);
  EXPECT_NEAR(static_cast<double>(count(uni, 1)) / 10000, 0.5, 0.03);
  auto weighted = interleave({5000, 5000}, {3, 1}, "weighted", rng);
  EXPECT_NEAR(static_cast<double>(count(weighted, 0)) / 10000, 0.75, 0.03);
  EXPECT_THROW(interleave({1, 1}, {1, 1}, "zigzag", rng), InputError);
}

TEST(Trainer, JointStageTrainsEveryDomainAndStepsBudgetStops) {
  auto a = toy_data("a", 6, 16), b = toy_data("b", 6, 4);
  Task ta = task_of(a, "source"), tb = task_of(b, "target");
  TinyModel model(6);
  TrainBatches ba(ta, small_batches(), 1), bb(tb, small_batches(), 2);
  int64_t validations = 0;
  auto hooks = hooks_with([&](SequenceModel&) {
    ++validations;
    return MetricMap{{"ndcg@10", 0.0}};
  });
  TrainOptions o;
  o.steps = 7;  // 5 batches per epoch: one full epoch and 2 steps of the next
  o.epochs = 1;  // ignored under a step budget
  TrainResult r = train_stage(model, "joint", {TrainDomain{0, &ba, 1}, TrainDomain{0, &bb, 1}}, o, hooks);
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_EQ(validations, 2);
}
