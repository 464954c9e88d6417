// The pq quantizer through the real loader: codes per sub-space on known codebooks, the loss against a hand
// computation, straight-through gradient, a gradient reaching the codebooks through FastWeights, and VQ-Rec's
// fixed codes (fitted only on items seen in training, code embeddings learned, clear errors without features).
#include "model_plugin_harness.hpp"
#include "xrec/api/quantizer.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {

std::shared_ptr<Quantizer> make_pq(const std::map<std::string, Value>& values) {
  return plugin_registry().get(Kind::Quantizer, "pq").quantizer(component_params(Kind::Quantizer, "pq", values),
                                                                PluginContext());
}

torch::Tensor with_padding(const torch::Tensor& rows) { return torch::cat({torch::zeros({1, rows.size(1)}), rows}); }

torch::Tensor param_of(Quantizer& q, const std::string& name) {
  for (auto& p : q.named_parameters()) if (p.key() == name) return p.value();
  return {};
}

// Codebooks [2 sub-spaces, 2 codes, 2]: sub-space 0 {(0,0), (1,1)}, sub-space 1 {(0,0), (-1,-1)}.
std::shared_ptr<Quantizer> learned_pq() {
  auto q = make_pq({{"subspaces", 2}, {"codebook_size", 2}, {"init", std::string("random")}});
  QuantizerInit init;
  init.item_vectors = {with_padding(torch::randn({4, 4}))};
  q->initialize(init);
  torch::NoGradGuard no_grad;
  param_of(*q, "codebooks").copy_(torch::tensor({{{0.f, 0.f}, {1.f, 1.f}}, {{0.f, 0.f}, {-1.f, -1.f}}}));
  return q;
}

// A domain whose two-dimensional item feature puts items 1, 2 near 0, items 3, 4 near 1 and
// item 5 far away at 100; item 5 appears only in the evaluation cases, never in `train`.
struct FeatureDomain {
  DomainData data;
  std::vector<std::vector<int64_t>> train{{1, 2, 3}, {4, 3, 1}, {2, 4}};
  FeatureDomain() {
    data.name = "feat";
    data.num_items = 5;
    data.item_features.push_back({"text", 2, {0, 0, 0.0f, 0.1f, 0.1f, 0.0f, 1.0f, 1.1f, 1.1f, 1.0f, 100, 100}});
  }
  QuantizerInit init(bool with_train = true) const {
    QuantizerInit i;
    i.domains.push_back({"feat", 5, &data, with_train ? &train : nullptr});
    i.item_vectors.push_back(torch::zeros({6, 4}));  // the encoder's width 4 (ignored but for the width)
    return i;
  }
};

}  // namespace

TEST(PqQuantizer, CodesPerSubspaceLossAndStraightThrough) {
  auto q = learned_pq();
  torch::Tensor x = with_padding(torch::tensor({{0.9f, 1.1f, -0.8f, -1.f}, {0.1f, 0.f, 0.9f, 1.f}})).requires_grad_(true);
  q->train();
  Quantized r = q->forward(x);
  EXPECT_TRUE(torch::equal(r.codes, torch::tensor({{0, 0}, {1, 1}, {0, 0}}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(r.vectors, with_padding(torch::tensor({{1.f, 1.f, -1.f, -1.f}, {0.f, 0.f, 0.f, 0.f}}))));
  // Squared errors: 0.01 + 0.01 + 0.04 + 0 + 0.01 + 0 + 0.81 + 1 = 1.88 over 8 values; codebook + 0.25 commitment.
  EXPECT_NEAR(r.loss.item<double>(), 1.25 * 1.88 / 8, 1e-6);
  r.vectors.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad().slice(0, 1), torch::ones({2, 4})));
  const MetricMap s = q->stats();
  EXPECT_DOUBLE_EQ(s.at("codebook_usage"), 1.0);
  EXPECT_NEAR(s.at("perplexity"), 2.0, 1e-9);
}

TEST(PqQuantizer, CodebookGradientFlowsThroughFastWeights) {
  auto q = learned_pq();
  const torch::Tensor cb = param_of(*q, "codebooks");
  torch::Tensor fast = (cb * 1.0).detach().requires_grad_(true);
  FastWeights w;
  w.set(cb, fast);
  q->forward(with_padding(torch::tensor({{0.9f, 1.1f, -0.8f, -1.f}, {0.1f, 0.f, 0.9f, 1.f}})), w).loss.backward();
  ASSERT_TRUE(fast.grad().defined());
  EXPECT_GT(fast.grad()[0].abs().sum().item<double>(), 0);
  EXPECT_GT(fast.grad()[1].abs().sum().item<double>(), 0);
  EXPECT_FALSE(cb.grad().defined());
}

TEST(PqQuantizer, WidthNotDividedBySubspacesIsAnInputError) {
  auto q = make_pq({{"subspaces", 3}});
  QuantizerInit init;
  init.item_vectors = {with_padding(torch::randn({10, 4}))};
  expect_input_error([&] { q->initialize(init); }, {"do not split into 3"});
}

TEST(PqQuantizer, FixedCodesAreFittedOnTrainingItemsOnly) {
  FeatureDomain d;
  auto codes_with = [&](bool with_train) {
    torch::manual_seed(0);
    auto q = make_pq({{"subspaces", 1}, {"codebook_size", 2}, {"codes", std::string("fixed")}});
    q->initialize(d.init(with_train));
    return q->forward_domain(0, torch::zeros({6, 4}), FastWeights()).codes.flatten();
  };
  // Fitted on items 1..4: two clusters {1, 2} and {3, 4}; unseen item 5 takes the nearest centroid (that of 3, 4).
  const torch::Tensor fitted = codes_with(true);
  EXPECT_EQ(fitted[1].item<int64_t>(), fitted[2].item<int64_t>());
  EXPECT_NE(fitted[1].item<int64_t>(), fitted[3].item<int64_t>());
  EXPECT_EQ(fitted[3].item<int64_t>(), fitted[4].item<int64_t>());
  EXPECT_EQ(fitted[5].item<int64_t>(), fitted[3].item<int64_t>());
  // Fitted on every item (what the host never does): item 5 gets a cluster of its own, 1..4 share one.
  const torch::Tensor all = codes_with(false);
  EXPECT_EQ(all[1].item<int64_t>(), all[3].item<int64_t>());
  EXPECT_NE(all[5].item<int64_t>(), all[1].item<int64_t>());
}

TEST(PqQuantizer, FixedCodesGiveTheMeanOfLearnedCodeEmbeddings) {
  FeatureDomain d;
  torch::manual_seed(0);
  auto q = make_pq({{"subspaces", 2}, {"codebook_size", 2}, {"codes", std::string("fixed")}});
  q->initialize(d.init());
  EXPECT_EQ(q->named_parameters().size(), 1u);  // only the code embeddings are learned
  const torch::Tensor emb = param_of(*q, "code_embeddings");
  ASSERT_EQ(emb.sizes(), (std::vector<int64_t>{2, 2, 4}));
  torch::Tensor fast = (emb * 1.0).detach().requires_grad_(true);
  FastWeights w;
  w.set(emb, fast);
  Quantized r = q->forward_domain(0, torch::zeros({6, 4}), w);
  ASSERT_EQ(r.codes.sizes(), (std::vector<int64_t>{6, 2}));
  for (int64_t i = 1; i <= 5; ++i) {
    const torch::Tensor expect =
        (emb[0][r.codes[i][0].item<int64_t>()] + emb[1][r.codes[i][1].item<int64_t>()]) / 2;
    EXPECT_TRUE(torch::allclose(r.vectors[i], expect)) << "item " << i;
  }
  EXPECT_TRUE(torch::equal(r.vectors[0], torch::zeros({4})));
  r.vectors.sum().backward();  // the gradient reaches the code embeddings through fast weights
  ASSERT_TRUE(fast.grad().defined());
  EXPECT_GT(fast.grad().abs().sum().item<double>(), 0);
}

TEST(PqQuantizer, FixedCodesWithoutDenseFeaturesAreAnInputError) {
  DomainData bare;
  bare.name = "bare";
  bare.num_items = 3;
  QuantizerInit init;
  init.domains.push_back({"bare", 3, &bare, nullptr});
  init.item_vectors.push_back(torch::zeros({4, 4}));
  auto q = make_pq({{"codes", std::string("fixed")}});
  expect_input_error([&] { q->initialize(init); }, {"domain 'bare' has no dense item features", "codes: learned"});
  FeatureDomain d;
  auto named = make_pq({{"codes", std::string("fixed")}, {"subspaces", 1}, {"feature", std::string("image")}});
  expect_input_error([&] { named->initialize(d.init()); }, {"no dense item feature 'image' (it has: text)"});
}
