// The vq quantizer through the real loader: nearest-code assignment, the straight-through gradient, the loss
// against a hand computation, a gradient reaching the codebook through FastWeights (meta-learning), the EMA
// update, k-means against random initialisation, dead-code restarts, and usage / perplexity.
#include "e2e/harness.hpp"
#include "model_plugin_harness.hpp"
#include "xrec/api/quantizer.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {

std::shared_ptr<Quantizer> make_vq(const std::map<std::string, Value>& values) {
  return plugin_registry().get(Kind::Quantizer, "vq").quantizer(component_params(Kind::Quantizer, "vq", values),
                                                               PluginContext());
}

// A table with its padding row 0.
torch::Tensor table(const std::vector<std::vector<float>>& rows) {
  std::vector<torch::Tensor> t{torch::zeros({1, static_cast<int64_t>(rows[0].size())})};
  for (const auto& r : rows) t.push_back(torch::tensor(r).unsqueeze(0));
  return torch::cat(t);
}

// Initialises `q` (random init from these rows) and then sets its codebook to `codes`.
void set_codebook(Quantizer& q, const torch::Tensor& codes) {
  QuantizerInit init;
  init.item_vectors = {torch::cat({torch::zeros({1, codes.size(1)}), codes})};
  q.initialize(init);
  torch::NoGradGuard no_grad;
  for (auto& b : q.named_buffers())
    if (b.key() == "codebook" || b.key() == "ema_sum") b.value().copy_(codes);  // EMA: sums = codewords, counts 1
  for (auto& p : q.named_parameters()) if (p.key() == "codebook") p.value().copy_(codes);
}

torch::Tensor codebook_of(Quantizer& q) {
  for (auto& p : q.named_parameters()) if (p.key() == "codebook") return p.value();
  for (auto& b : q.named_buffers()) if (b.key() == "codebook") return b.value();
  return {};
}

}  // namespace

TEST(VqQuantizer, NearestCodeStraightThroughAndLoss) {
  auto q = make_vq({{"codebook_size", 2}, {"init", std::string("random")}, {"beta", 0.25}});
  set_codebook(*q, torch::tensor({{0.f, 0.f}, {1.f, 1.f}}));
  torch::Tensor x = table({{0.9f, 1.2f}, {0.1f, -0.2f}, {0.6f, 0.7f}}).requires_grad_(true);
  q->train();
  Quantized r = q->forward(x);
  EXPECT_TRUE(torch::equal(r.codes.flatten(), torch::tensor({0, 1, 0, 1}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(r.vectors, table({{1, 1}, {0, 0}, {1, 1}})));
  // loss = mse(q, sg x) + 0.25 mse(x, sg q): both are the mean squared distance to the nearest codeword.
  const double mse = (0.01 + 0.04 + 0.01 + 0.04 + 0.16 + 0.09) / 6.0;
  EXPECT_NEAR(r.loss.item<double>(), 1.25 * mse, 1e-6);
  // Straight-through: d sum(vectors) / d x is 1 for every item row (0 for padding).
  r.vectors.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad().slice(0, 1), torch::ones({3, 2})));
  EXPECT_TRUE(torch::allclose(x.grad().slice(0, 0, 1), torch::zeros({1, 2})));
}

TEST(VqQuantizer, CodebookGradientFlowsThroughFastWeights) {
  auto q = make_vq({{"codebook_size", 2}, {"init", std::string("random")}});
  set_codebook(*q, torch::tensor({{0.f, 0.f}, {1.f, 1.f}}));
  const torch::Tensor cb = codebook_of(*q);
  torch::Tensor fast = (cb * 1.0).detach().requires_grad_(true);
  FastWeights w;
  w.set(cb, fast);
  q->eval();
  Quantized r = q->forward(table({{0.9f, 1.2f}, {0.1f, -0.2f}}), w);
  r.loss.backward();
  ASSERT_TRUE(fast.grad().defined());
  EXPECT_GT(fast.grad().abs().sum().item<double>(), 0);
  EXPECT_FALSE(cb.grad().defined());  // the module's own codebook was not used
}

TEST(VqQuantizer, EmaMovesCodewordsTowardTheirItems) {
  auto q = make_vq({{"codebook_size", 2}, {"init", std::string("random")}, {"ema", true}, {"decay", 0.5}});
  set_codebook(*q, torch::tensor({{0.f, 0.f}, {1.f, 1.f}}));
  q->train();
  q->forward(table({{0.2f, 0.2f}, {2.f, 2.f}}));
  // ema_count = 0.5*1 + 0.5*1 = 1 each; ema_sum = 0.5*c + 0.5*x; smoothing over counts 1 and 1 is ~identity.
  EXPECT_TRUE(torch::allclose(codebook_of(*q), torch::tensor({{0.1f, 0.1f}, {1.5f, 1.5f}}), 1e-3, 1e-4));
  EXPECT_EQ(q->named_parameters().size(), 0u);  // with EMA the codebook is not trained by the optimizer
}

TEST(VqQuantizer, KmeansInitQuantizesBetterThanRandomItems) {
  torch::manual_seed(0);
  // Four tight clusters of 50 items.
  torch::Tensor centers = torch::tensor({{5.f, 0.f}, {-5.f, 0.f}, {0.f, 5.f}, {0.f, -5.f}});
  torch::Tensor items = centers.repeat_interleave(50, 0) + 0.1 * torch::randn({200, 2});
  QuantizerInit init;
  init.item_vectors = {torch::cat({torch::zeros({1, 2}), items})};
  auto error = [&](const std::string& how) {
    double total = 0;
    for (int s = 0; s < 5; ++s) {
      torch::manual_seed(s);
      auto q = make_vq({{"codebook_size", 4}, {"init", how}});
      q->initialize(init);
      q->eval();
      total += (q->forward(init.item_vectors[0]).vectors.slice(0, 1) - items).pow(2).sum().item<double>();
    }
    return total;
  };
  EXPECT_LT(error("kmeans"), 0.5 * error("random"));
}

TEST(VqQuantizer, DeadCodesRestartAndStatsAreReported) {
  torch::manual_seed(1);
  auto q = make_vq({{"codebook_size", 4}, {"init", std::string("random")}, {"restart_every", 2}});
  set_codebook(*q, torch::tensor({{0.f, 0.f}, {1.f, 1.f}, {50.f, 50.f}, {-50.f, 50.f}}));
  q->train();
  const torch::Tensor x = table({{0.1f, 0.f}, {0.9f, 1.f}, {1.1f, 0.9f}, {0.f, 0.2f}});
  q->forward(x);
  MetricMap s = q->stats();
  EXPECT_DOUBLE_EQ(s.at("codebook_usage"), 0.5);  // codes 2 and 3 unused
  EXPECT_NEAR(s.at("perplexity"), 2.0, 1e-9);     // two codes, two items each
  q->forward(x);                                   // second forward: restart
  EXPECT_DOUBLE_EQ(q->stats().at("dead_restarts"), 2);
  // The restarted codewords now lie near items, far from the old (50, 50) and (-50, 50).
  EXPECT_LT(codebook_of(*q).slice(0, 2).abs().max().item<double>(), 2.0);
}

// End to end through the real binary: SASRec with a vq codebook on synthetic data records codebook usage and
// perplexity per epoch in the store (Quantizer::stats() through the trainer).
TEST(VqQuantizer, UsageAndPerplexityAreRecordedPerEpoch) {
  xrec::test::TempDir dir("vq-e2e");
  const std::string cfg = dir.write(
      "vq.yaml",
      "name: vq-e2e\nseed: 1\nthreads: 1\n"
      "data: {target: {type: synthetic, domain: 0, users: 200, items: 60, length: 10, seed: 1}}\n"
      "backbone: {type: sasrec, hidden: 16, layers: 1, heads: 1, max_len: 12}\n"
      "quantizer: {type: vq, codebook_size: 16}\n"
      "transfer: {type: scratch}\ntrain: {epochs: 2, batch_size: 64}\neval: {ks: [10]}\n");
  const std::string db = dir.path("xrec.db");
  auto r = xrec::test::xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  ASSERT_EQ(r.code, 0) << r.output;
  auto value = [&](const std::string& key, int step) {
    return std::stod(xrec::test::one_value(db, "SELECT value FROM metrics WHERE split = 'train' AND key = 'quantizer/" +
                                                   key + "' AND step = " + std::to_string(step)));
  };
  for (int step : {0, 1}) {
    EXPECT_GT(value("codebook_usage", step), 0.0);
    EXPECT_LE(value("codebook_usage", step), 1.0);
    EXPECT_GE(value("perplexity", step), 1.0);
    EXPECT_LE(value("perplexity", step), 16.0);
  }
}
