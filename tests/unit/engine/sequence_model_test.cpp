#include "xrec/engine/sequence_model.hpp"

#include "xrec/api/errors.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace xrec;
using namespace xrec::engine;

namespace {
// A minimal causal backbone: state_t = W · (mean of items 0..t), with W read through FastWeights.
class MeanBackbone : public Backbone {
 public:
  explicit MeanBackbone(int64_t d) : d_(d) { weight_ = register_parameter("weight", torch::eye(d) + 0.1 * torch::randn({d, d})); }
  int64_t hidden_size() const override { return d_; }
  int64_t max_len() const override { return 4; }
  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    auto keep = (~padding).unsqueeze(-1).to(items.dtype());
    auto sums = (items * keep).cumsum(1), counts = keep.cumsum(1).clamp_min(1);
    return torch::matmul(sums / counts, w(weight_).t());
  }
  torch::Tensor weight_;

 private:
  int64_t d_;
};

// A minimal bidirectional Cloze backbone: every position's state = W · (mean of all non-padding vectors).
class BagBackbone : public Backbone {
 public:
  BagBackbone(int64_t d, double p) : d_(d), p_(p) {
    weight_ = register_parameter("weight", torch::eye(d) + 0.1 * torch::randn({d, d}));
    mask_ = register_parameter("mask", torch::randn({d}));
  }
  int64_t hidden_size() const override { return d_; }
  int64_t max_len() const override { return 4; }
  Objective objective() const override { return Objective::Cloze; }
  double mask_prob() const override { return p_; }
  torch::Tensor mask_vector(const FastWeights& w) override { return w(mask_); }
  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    seen_items = items.detach().clone();
    seen_padding = padding.clone();
    auto keep = (~padding).unsqueeze(-1).to(items.dtype());
    auto mean = (items * keep).sum(1, true) / keep.sum(1, true).clamp_min(1);
    return torch::matmul(mean, w(weight_).t()).expand_as(items);
  }
  torch::Tensor weight_, mask_, seen_items, seen_padding;

 private:
  int64_t d_;
  double p_;
};

Batch toy_batch() {
  Batch b;
  b.inputs = torch::tensor({{0, 1, 2, 3}, {0, 0, 4, 5}}, torch::kLong);
  b.targets = torch::tensor({{0, 2, 3, 4}, {0, 0, 5, 1}}, torch::kLong);
  return b;
}
}  // namespace

TEST(SequenceModel, EachDomainHasItsOwnItemTable) {
  torch::manual_seed(0);
  HostSequenceModel m({5, 7}, std::make_shared<MeanBackbone>(3), nullptr, LossKind::CrossEntropy);
  EXPECT_EQ(m.num_domains(), 2);
  EXPECT_EQ(m.item_vectors(0).sizes(), (std::vector<int64_t>{6, 3}));
  EXPECT_EQ(m.item_vectors(1).sizes(), (std::vector<int64_t>{8, 3}));
  EXPECT_TRUE(torch::equal(m.item_vectors(0)[0], torch::zeros({3})));  // padding row
  EXPECT_EQ(m.score_next(1, torch::tensor({{0, 1, 7}}, torch::kLong)).sizes(), (std::vector<int64_t>{1, 8}));
}

TEST(SequenceModel, CrossEntropyIsFullSoftmaxOverRealItems) {
  torch::manual_seed(1);
  HostSequenceModel m({5}, std::make_shared<MeanBackbone>(4), nullptr, LossKind::CrossEntropy);
  Batch b = toy_batch();
  auto states = m.encode(0, b.inputs);
  auto mask = b.targets.gt(0);
  auto logits = torch::matmul(states.index({mask}), m.item_vectors(0).slice(0, 1).t());
  auto expected = torch::nn::functional::cross_entropy(logits, b.targets.index({mask}) - 1);
  EXPECT_NEAR(m.loss(0, b).item<double>(), expected.item<double>(), 1e-6);
}

TEST(SequenceModel, BinaryCrossEntropyUsesSampledNegatives) {
  torch::manual_seed(2);
  HostSequenceModel m({5}, std::make_shared<MeanBackbone>(4), nullptr, LossKind::BinaryCrossEntropy);
  Batch b = toy_batch();
  b.negatives = torch::tensor({{{1}, {4}, {5}, {1}}, {{1}, {1}, {2}, {3}}}, torch::kLong);
  auto items = m.item_vectors(0);
  auto states = m.encode(0, b.inputs);
  double total = 0;
  int n = 0;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < 4; ++t) {
      int64_t target = b.targets[r][t].item<int64_t>();
      if (target == 0) continue;
      auto h = states[r][t];
      double pos = (h * items[target]).sum().item<double>();
      double neg = (h * items[b.negatives[r][t][0].item<int64_t>()]).sum().item<double>();
      total += -std::log(1 / (1 + std::exp(-pos))) - std::log(1 - 1 / (1 + std::exp(-neg)));
      ++n;
    }
  EXPECT_NEAR(m.loss(0, b).item<double>(), total / n, 1e-5);
  b.negatives = torch::Tensor();
  EXPECT_THROW(m.loss(0, b), xrec::Error);
}

TEST(SequenceModel, FastWeightsGiveSecondOrderMetaGradients) {
  torch::manual_seed(3);
  auto backbone = std::make_shared<MeanBackbone>(4);
  HostSequenceModel m({5}, backbone, nullptr, LossKind::CrossEntropy);
  Batch b = toy_batch();
  auto params = m.parameters();
  // Inner step: phi = theta - 0.5 * grad, keeping the graph (second order).
  auto grads = torch::autograd::grad({m.loss(0, b)}, params, {}, /*retain_graph=*/true, /*create_graph=*/true);
  std::vector<torch::Tensor> phi;
  for (size_t i = 0; i < params.size(); ++i) phi.push_back(params[i] - 0.5 * grads[i]);
  FastWeights w = FastWeights::from(m, phi);
  EXPECT_EQ(w.size(), params.size());
  // The model computes with phi: its loss differs from the loss at theta.
  auto outer = m.loss(0, b, w);
  EXPECT_GT(std::abs(outer.item<double>() - m.loss(0, b).item<double>()), 1e-6);
  auto second = torch::autograd::grad({outer}, params, {}, /*retain_graph=*/true);
  // First order treats phi as independent of theta; its gradient differs when curvature matters.
  std::vector<torch::Tensor> detached;
  for (auto& p : phi) detached.push_back(p.detach().requires_grad_(true));
  auto first = torch::autograd::grad({m.loss(0, b, FastWeights::from(m, detached))}, detached);
  ASSERT_TRUE(second[0].defined());
  EXPECT_FALSE(torch::allclose(second[0], first[0], 1e-6, 1e-8));
  EXPECT_THROW(FastWeights::from(m, {phi[0]}), xrec::Error);
}

TEST(SequenceModel, ClozeScoringAppendsOneMaskedPositionAfterTheHistory) {
  torch::manual_seed(4);
  auto backbone = std::make_shared<BagBackbone>(3, 0.2);
  HostSequenceModel m({6}, backbone, nullptr, LossKind::CrossEntropy);
  // History 2, 3, 4, 5 fills max_len 4: the oldest item drops to make room for the mask.
  auto scores = m.score_next(0, torch::tensor({{2, 3, 4, 5}, {0, 0, 1, 6}}, torch::kLong));
  ASSERT_EQ(backbone->seen_items.sizes(), (std::vector<int64_t>{2, 4, 3}));
  auto items = m.item_vectors(0);
  EXPECT_TRUE(torch::allclose(backbone->seen_items[0][0], items[3]));
  EXPECT_TRUE(torch::allclose(backbone->seen_items[0][3], backbone->mask_.detach()));
  EXPECT_TRUE(torch::allclose(backbone->seen_items[1][3], backbone->mask_.detach()));
  EXPECT_TRUE(torch::equal(backbone->seen_padding[1], torch::tensor({true, false, false, false})));
  auto bag = (items[1] + items[6] + backbone->mask_).detach() / 3;
  auto expected = torch::matmul(torch::matmul(bag, backbone->weight_.detach().t()), items.t());
  EXPECT_TRUE(torch::allclose(scores[1], expected, 1e-5, 1e-6));
}

TEST(SequenceModel, ClozeLossPredictsMaskedItemsOfTheWholeSequence) {
  torch::manual_seed(5);
  Batch b;  // sequences 1 2 3 4 5 (cut to max_len 4: 2 3 4 5) and 4 5 1
  b.inputs = torch::tensor({{1, 2, 3, 4}, {0, 0, 4, 5}}, torch::kLong);
  b.targets = torch::tensor({{2, 3, 4, 5}, {0, 0, 5, 1}}, torch::kLong);
  {
    // p = 1: every real item is masked and predicted.
    auto backbone = std::make_shared<BagBackbone>(3, 1.0);
    HostSequenceModel m({5}, backbone, nullptr, LossKind::CrossEntropy);
    auto loss = m.loss(0, b).item<double>();
    auto items = m.item_vectors(0).detach();
    auto mask = backbone->mask_.detach();
    EXPECT_TRUE(torch::equal(backbone->seen_padding, torch::tensor({{false, false, false, false}, {true, false, false, false}})));
    auto w = backbone->weight_.detach().t();
    auto h0 = torch::matmul(mask, w), h1 = torch::matmul(mask, w);  // every input is the mask vector
    auto logits = torch::matmul(torch::stack({h0, h0, h0, h0, h1, h1, h1}), items.slice(0, 1).t());
    auto targets = torch::tensor({2, 3, 4, 5, 4, 5, 1}, torch::kLong) - 1;
    EXPECT_NEAR(loss, torch::nn::functional::cross_entropy(logits, targets).item<double>(), 1e-5);
  }
  {
    // p = 0: nothing is drawn, so each row's newest item is masked (the position inference asks about).
    auto backbone = std::make_shared<BagBackbone>(3, 0.0);
    HostSequenceModel m({5}, backbone, nullptr, LossKind::CrossEntropy);
    m.loss(0, b);
    auto items = m.item_vectors(0).detach();
    EXPECT_TRUE(torch::allclose(backbone->seen_items[0][3], backbone->mask_.detach()));
    EXPECT_TRUE(torch::allclose(backbone->seen_items[0][2], items[4]));
    EXPECT_TRUE(torch::allclose(backbone->seen_items[1][1], items[4]));
    EXPECT_TRUE(torch::allclose(backbone->seen_items[1][3], backbone->mask_.detach()));
  }
}
