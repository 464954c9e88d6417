#include "xrec/engine/sequence_model.hpp"

#include "xrec/api/errors.hpp"
#include "xrec/engine/item_encoders.hpp"

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

// ---- item encoders -------------------------------------------------------------------------------------

TEST(SequenceModel, IdEncoderDrawsTheTablesTheModelAlwaysHad) {
  // Same seed, same draws: the backbone's parameters first, then randn * init_std per domain, padding zeroed.
  torch::manual_seed(7);
  HostSequenceModel m({5, 3}, std::make_shared<MeanBackbone>(4), nullptr, LossKind::CrossEntropy);
  torch::manual_seed(7);
  MeanBackbone reference(4);
  auto t0 = torch::randn({6, 4}) * 0.02, t1 = torch::randn({4, 4}) * 0.02;
  t0[0].zero_();
  t1[0].zero_();
  EXPECT_TRUE(torch::equal(m.item_vectors(0), t0));
  EXPECT_TRUE(torch::equal(m.item_vectors(1), t1));
  // Parameter order and names: the encoder's tables, then the backbone.
  auto named = m.named_parameters();
  ASSERT_EQ(named.size(), 3u);
  EXPECT_EQ(named[0].key(), "item_encoder.items_0");
  EXPECT_EQ(named[1].key(), "item_encoder.items_1");
  EXPECT_EQ(named[2].key(), "backbone.weight");
}

TEST(SequenceModel, IdEncoderHonoursInitStd) {
  torch::manual_seed(3);
  HostSequenceModel m({2000}, std::make_shared<MeanBackbone>(8), nullptr, LossKind::CrossEntropy, /*init_std=*/0.5);
  EXPECT_NEAR(m.item_vectors(0).slice(0, 1).std().item<double>(), 0.5, 0.01);
  EXPECT_THROW(engine::IdItemEncoder(-1.0), InputError);
}

namespace {
// An item encoder that reads the domain's dense item feature through one shared projection: proves that
// encoders see their domain's data and that the model uses whatever they return.
class FeatureEncoder : public ItemEncoder {
 public:
  void bind(const std::vector<ItemDomain>& domains, int64_t dim) override {
    for (auto& d : domains) {
      const DenseFeature& f = d.data->item_features.at(0);
      features_.push_back(torch::tensor(f.values).view({d.num_items + 1, f.dim}));
    }
    proj_ = register_parameter("proj", torch::ones({features_[0].size(1), dim}));
  }
  torch::Tensor forward(int64_t domain, const FastWeights& w) override {
    return torch::matmul(features_.at(static_cast<size_t>(domain)), w(proj_));
  }
  std::vector<torch::Tensor> features_;
  torch::Tensor proj_;
};
}  // namespace

TEST(SequenceModel, ItemEncoderReadsItsDomainsFeatures) {
  DomainData a;
  a.name = "a";
  a.num_items = 2;
  a.item_features = {{"x", 1, {0.f, 1.f, 2.f}}};
  DomainData b;
  b.name = "b";
  b.num_items = 1;
  b.item_features = {{"x", 1, {0.f, 5.f}}};
  auto enc = std::make_shared<FeatureEncoder>();
  HostSequenceModel m({{"a", 2, &a}, {"b", 1, &b}}, enc, std::make_shared<MeanBackbone>(3), nullptr,
                      LossKind::CrossEntropy);
  EXPECT_TRUE(torch::equal(m.item_vectors(0), torch::tensor({{0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}, {2.f, 2.f, 2.f}})));
  EXPECT_TRUE(torch::equal(m.item_vectors(1), torch::tensor({{0.f, 0.f, 0.f}, {5.f, 5.f, 5.f}})));
  // Fast weights reach the encoder's parameters.
  FastWeights w;
  w.set(enc->proj_, torch::full({1, 3}, 2.f));
  EXPECT_TRUE(torch::equal(m.item_vectors(1, w), torch::tensor({{0.f, 0.f, 0.f}, {10.f, 10.f, 10.f}})));
  EXPECT_EQ(m.named_parameters()[0].key(), "item_encoder.proj");
}

// ---- the quantizer path ----------------------------------------------------------------------------------

namespace {
// Nearest-codeword quantizer with a straight-through estimator (VQ-VAE): vectors = x + (q - x).detach(), aux
// loss = aux_weight * (|q - sg(x)|^2 + 0.25 |x - sg(q)|^2). initialize() copies the first K item vectors of
// domain 0 into the codebook (a k-means seed), and counts its calls.
class NearestQuantizer : public Quantizer {
 public:
  NearestQuantizer(int64_t k, int64_t d, double aux_weight) : aux_weight_(aux_weight) {
    codebook_ = register_parameter("codebook", torch::randn({k, d}));
  }
  void initialize(const QuantizerInit& init) override {
    ++init_calls;
    seen_init = init;
    torch::NoGradGuard g;
    codebook_.copy_(init.item_vectors.at(0).slice(0, 0, codebook_.size(0)));
  }
  Quantized forward(const torch::Tensor& x, const FastWeights& w) override {
    const auto& cb = w(codebook_);
    auto codes = torch::cdist(x.detach(), cb.detach()).argmin(1);
    auto q = cb.index_select(0, codes);
    auto aux = aux_weight_ * ((q - x.detach()).pow(2).sum(-1).mean() + 0.25 * (x - q.detach()).pow(2).sum(-1).mean());
    return {x + (q - x).detach(), codes.unsqueeze(1), aux};
  }
  torch::Tensor codebook_;
  int init_calls = 0;
  QuantizerInit seen_init;

 private:
  double aux_weight_;
};
}  // namespace

TEST(SequenceModel, QuantizerIsInitialisedFromTheEncodersVectors) {
  torch::manual_seed(11);
  auto q = std::make_shared<NearestQuantizer>(3, 4, 1.0);
  HostSequenceModel m({6, 2}, std::make_shared<MeanBackbone>(4), q, LossKind::CrossEntropy);
  EXPECT_EQ(q->init_calls, 1);
  ASSERT_EQ(q->seen_init.item_vectors.size(), 2u);
  EXPECT_EQ(q->seen_init.domains[1].num_items, 2);
  auto table0 = m.item_encoder().forward(0);
  EXPECT_TRUE(torch::equal(q->seen_init.item_vectors[0], table0));
  EXPECT_FALSE(q->seen_init.item_vectors[0].requires_grad());
  EXPECT_TRUE(torch::equal(q->codebook_, table0.slice(0, 0, 3)));  // rows 0..2 (0 = padding) seeded the codebook
  m.initialize_quantizer();  // a strategy may call it again
  EXPECT_EQ(q->init_calls, 2);
}

TEST(SequenceModel, QuantizerPathScoresLossAndStraightThroughGradients) {
  torch::manual_seed(12);
  auto q = std::make_shared<NearestQuantizer>(3, 4, 0.5);
  auto backbone = std::make_shared<MeanBackbone>(4);
  HostSequenceModel m({5}, backbone, q, LossKind::CrossEntropy);
  auto raw = m.item_encoder().forward(0);
  // Scores use the quantized vectors: every item vector is a codeword.
  auto vectors = m.item_vectors(0);
  auto codes = torch::cdist(raw.detach(), q->codebook_.detach()).argmin(1);
  EXPECT_TRUE(torch::allclose(vectors, q->codebook_.index_select(0, codes)));
  auto inputs = torch::tensor({{0, 1, 2, 3}}, torch::kLong);
  auto h = backbone->forward(torch::embedding(vectors, inputs, 0), inputs.eq(0), FastWeights()).select(1, 3);
  EXPECT_TRUE(torch::allclose(m.score_next(0, inputs), torch::matmul(h, vectors.t())));

  // Loss = the CE over quantized vectors + the quantizer's aux loss.
  Batch b = toy_batch();
  auto V = vectors.detach().clone().requires_grad_(true);
  auto mask = b.targets.gt(0);
  auto states = backbone->forward(torch::embedding(V, b.inputs, 0), b.inputs.eq(0), FastWeights());
  auto ce = torch::nn::functional::cross_entropy(torch::matmul(states.index({mask}), V.slice(0, 1).t()),
                                                 b.targets.index({mask}) - 1);
  auto aux = q->forward(raw, FastWeights()).loss;
  m.zero_grad();
  auto loss = m.loss(0, b);
  EXPECT_NEAR(loss.item<double>(), ce.item<double>() + aux.item<double>(), 1e-6);
  EXPECT_GT(aux.item<double>(), 0.0);

  // Straight through: the table's gradient is the CE gradient w.r.t. the quantized vectors plus the aux term's.
  loss.backward();
  auto ce_grad = torch::autograd::grad({ce}, {V})[0];
  auto raw_leaf = raw.detach().clone().requires_grad_(true);
  auto aux_grad = torch::autograd::grad({q->forward(raw_leaf, FastWeights()).loss}, {raw_leaf})[0];
  auto table_grad = m.named_parameters()["item_encoder.items_0"].grad();
  ASSERT_TRUE(table_grad.defined());
  EXPECT_TRUE(torch::allclose(table_grad, ce_grad + aux_grad, 1e-5, 1e-6));
  EXPECT_GT(ce_grad.abs().sum().item<double>(), 0.0);
  // The codebook learns only through the aux loss (the CE gradient is cut by the straight-through estimator).
  ASSERT_TRUE(q->codebook_.grad().defined());
  EXPECT_GT(q->codebook_.grad().abs().sum().item<double>(), 0.0);
}

// ---- in-batch loss, cosine scoring, auxiliary loss, transductive ids ---------------------------------------

TEST(SequenceModel, InBatchLossMasksRepeatedTargetsAsNegatives) {
  torch::manual_seed(21);
  HostSequenceModel m({5}, std::make_shared<MeanBackbone>(3), nullptr, LossKind::InBatch);
  Batch b;
  b.inputs = torch::tensor({{0, 1, 2, 3}, {0, 0, 4, 5}}, torch::kLong);
  b.targets = torch::tensor({{0, 2, 3, 4}, {0, 0, 2, 1}}, torch::kLong);  // item 2 is the target twice
  auto items = m.item_vectors(0);
  auto states = m.encode(0, b.inputs);
  std::vector<std::pair<torch::Tensor, int64_t>> pos;  // (state, target) of each predicting position, row order
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < 4; ++t)
      if (b.targets[r][t].item<int64_t>() > 0) pos.push_back({states[r][t], b.targets[r][t].item<int64_t>()});
  double total = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    double num = 0, den = 0;
    for (size_t j = 0; j < pos.size(); ++j) {
      if (j != i && pos[j].second == pos[i].second) continue;  // the same item is no negative
      const double e = std::exp((pos[i].first * items[pos[j].second]).sum().item<double>());
      den += e;
      if (j == i) num = e;
    }
    total += -std::log(num / den);
  }
  EXPECT_NEAR(m.loss(0, b).item<double>(), total / static_cast<double>(pos.size()), 1e-5);
  EXPECT_EQ(parse_loss("inbatch"), LossKind::InBatch);
  EXPECT_EQ(to_string(LossKind::InBatch), "inbatch");
  // A stage may switch the loss: ce over all items gives another value.
  m.set_loss(LossKind::CrossEntropy);
  EXPECT_GT(std::abs(m.loss(0, b).item<double>() - total / static_cast<double>(pos.size())), 1e-4);
}

TEST(SequenceModel, CosineScoringDividesByTheTemperature) {
  torch::manual_seed(22);
  HostSequenceModel m({5}, std::make_shared<MeanBackbone>(3), nullptr, LossKind::CrossEntropy);
  m.set_scoring(Scoring::Cosine, 0.5);
  EXPECT_EQ(m.scoring(), Scoring::Cosine);
  Batch b = toy_batch();
  auto items = m.item_vectors(0);
  auto states = m.encode(0, b.inputs);
  auto cosine = [](const torch::Tensor& a, const torch::Tensor& v) {
    return (a * v).sum().item<double>() / (a.norm().item<double>() * v.norm().item<double>());
  };
  // score_next: cos(last state, item) / 0.5; the padding row (all zeros) scores 0.
  auto s = m.score_next(0, b.inputs);
  for (int64_t i = 1; i <= 5; ++i) EXPECT_NEAR(s[0][i].item<double>(), cosine(states[0][3], items[i]) / 0.5, 1e-5);
  EXPECT_NEAR(s[0][0].item<double>(), 0.0, 1e-7);
  // ce: softmax over cos / 0.5 of the real items.
  double total = 0;
  int n = 0;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t t = 0; t < 4; ++t) {
      const int64_t target = b.targets[r][t].item<int64_t>();
      if (target == 0) continue;
      double den = 0;
      for (int64_t i = 1; i <= 5; ++i) den += std::exp(cosine(states[r][t], items[i]) / 0.5);
      total += -(cosine(states[r][t], items[target]) / 0.5 - std::log(den));
      ++n;
    }
  EXPECT_NEAR(m.loss(0, b).item<double>(), total / n, 1e-5);
  EXPECT_THROW(m.set_scoring(Scoring::Cosine, 0), InputError);
}

namespace {
// An encoder with an auxiliary loss: aux = 0.5 * sum of the vector rows of the items it is given.
class AuxEncoder : public ItemEncoder {
 public:
  void bind(const std::vector<ItemDomain>& domains, int64_t dim) override {
    table_ = register_parameter("table", torch::randn({domains[0].num_items + 1, dim}));
  }
  torch::Tensor forward(int64_t, const FastWeights& w) override {
    auto t = w(table_).clone();
    t[0].zero_();
    return t;
  }
  torch::Tensor auxiliary_loss(int64_t, const torch::Tensor& items, const FastWeights& w) override {
    seen = items.clone();
    return 0.5 * w(table_).index({items}).sum();
  }
  torch::Tensor table_, seen;
};
}  // namespace

TEST(SequenceModel, TheEncodersAuxiliaryLossIsAddedWhileOn) {
  torch::manual_seed(23);
  auto enc = std::make_shared<AuxEncoder>();
  HostSequenceModel m({{"a", 5, nullptr}}, enc, std::make_shared<MeanBackbone>(3), nullptr, LossKind::CrossEntropy);
  Batch b = toy_batch();
  EXPECT_TRUE(m.aux_loss());
  const double with = m.loss(0, b).item<double>();
  EXPECT_TRUE(torch::equal(enc->seen, torch::tensor({2, 3, 4, 5, 1}, torch::kLong)));  // the batch's targets
  const double aux = 0.5 * enc->table_.index({enc->seen}).sum().item<double>();
  m.set_aux_loss(false);
  EXPECT_NEAR(with, m.loss(0, b).item<double>() + aux, 1e-5);
}

TEST(SequenceModel, WithIdsAddsTheIdTableToTheEncodersVectors) {
  DomainData a;
  a.name = "a";
  a.num_items = 2;
  a.item_features = {{"x", 1, {0.f, 1.f, 2.f}}};
  torch::manual_seed(24);
  HostSequenceModel m({{"a", 2, &a}}, std::make_shared<FeatureEncoder>(), std::make_shared<MeanBackbone>(3), nullptr,
                      LossKind::CrossEntropy, std::make_shared<IdItemEncoder>(0.5));
  auto params = m.named_parameters();
  ASSERT_TRUE(params.contains("item_ids.items_0"));
  EXPECT_EQ(params[1].key(), "item_ids.items_0");  // right after the encoder's
  auto ids = params["item_ids.items_0"];
  auto expected = torch::tensor({{0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}, {2.f, 2.f, 2.f}}) + ids;
  EXPECT_TRUE(torch::allclose(m.item_vectors(0), expected));
  EXPECT_TRUE(torch::equal(m.item_vectors(0)[0], torch::zeros({3})));
  EXPECT_GT(ids.slice(0, 1).abs().sum().item<double>(), 0);
}
