// The rvq quantizer through the real loader: codes and output on known codebooks, the loss against a hand
// computation, straight-through gradient, a gradient reaching the codebooks through FastWeights, quantization
// error falling with the number of levels, per-level usage.
#include "model_plugin_harness.hpp"
#include "xrec/api/quantizer.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {

std::shared_ptr<Quantizer> make_rvq(const std::map<std::string, Value>& values) {
  return plugin_registry().get(Kind::Quantizer, "rvq").quantizer(component_params(Kind::Quantizer, "rvq", values),
                                                                 PluginContext());
}

torch::Tensor with_padding(const torch::Tensor& rows) { return torch::cat({torch::zeros({1, rows.size(1)}), rows}); }

torch::Tensor codebooks_of(Quantizer& q) {
  for (auto& p : q.named_parameters()) if (p.key() == "codebooks") return p.value();
  return {};
}

// Initialises `q` from `rows`, then sets its codebooks [levels, K, D].
void set_codebooks(Quantizer& q, const torch::Tensor& books) {
  QuantizerInit init;
  init.item_vectors = {with_padding(books[0])};
  q.initialize(init);
  torch::NoGradGuard no_grad;
  codebooks_of(q).copy_(books);
}

const torch::Tensor kBooks = torch::tensor({{{0.f, 0.f}, {4.f, 4.f}}, {{0.f, 0.f}, {1.f, -1.f}}});

}  // namespace

TEST(RvqQuantizer, ResidualCodesSumAndLoss) {
  auto q = make_rvq({{"levels", 2}, {"codebook_size", 2}, {"init", std::string("random")}});
  set_codebooks(*q, kBooks);
  torch::Tensor x = with_padding(torch::tensor({{5.f, 3.f}, {0.2f, 0.1f}})).requires_grad_(true);
  q->train();
  Quantized r = q->forward(x);
  // (5,3): level 1 -> (4,4), residual (1,-1) -> level 2 code 1; (0.2,0.1): code 0 at both levels.
  EXPECT_TRUE(torch::equal(r.codes, torch::tensor({{0, 0}, {1, 1}, {0, 0}}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(r.vectors, with_padding(torch::tensor({{5.f, 3.f}, {0.f, 0.f}}))));
  // Per level mse(q, r) (both terms equal in value): level 1 (2 + 0.05) / 4, level 2 (0 + 0.05) / 4; x 1.25.
  EXPECT_NEAR(r.loss.item<double>(), 1.25 * (2.05 / 4 + 0.05 / 4), 1e-6);
  r.vectors.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad().slice(0, 1), torch::ones({2, 2})));  // straight-through
  const MetricMap s = q->stats();
  EXPECT_DOUBLE_EQ(s.at("level1/codebook_usage"), 1.0);
  EXPECT_DOUBLE_EQ(s.at("level2/perplexity"), 2.0);
  EXPECT_TRUE(q->stats().empty());  // reset by the call
}

TEST(RvqQuantizer, CodebookGradientFlowsThroughFastWeights) {
  auto q = make_rvq({{"levels", 2}, {"codebook_size", 2}, {"init", std::string("random")}});
  set_codebooks(*q, kBooks);
  const torch::Tensor cb = codebooks_of(*q);
  torch::Tensor fast = (cb * 1.0).detach().requires_grad_(true);
  FastWeights w;
  w.set(cb, fast);
  q->forward(with_padding(torch::tensor({{5.f, 3.f}, {0.2f, 0.1f}})), w).loss.backward();
  ASSERT_TRUE(fast.grad().defined());
  EXPECT_GT(fast.grad()[0].abs().sum().item<double>(), 0);  // both levels' codebooks receive a gradient
  EXPECT_GT(fast.grad()[1].abs().sum().item<double>(), 0);
  EXPECT_FALSE(cb.grad().defined());
}

TEST(RvqQuantizer, QuantizationErrorFallsWithLevels) {
  torch::manual_seed(0);
  const torch::Tensor items = torch::randn({300, 8});
  QuantizerInit init;
  init.item_vectors = {with_padding(items)};
  std::vector<double> errors;
  for (int64_t levels : {1, 2, 3, 4}) {
    torch::manual_seed(1);
    auto q = make_rvq({{"levels", levels}, {"codebook_size", 16}});
    q->initialize(init);
    q->eval();
    errors.push_back((q->forward(init.item_vectors[0]).vectors.slice(0, 1) - items).pow(2).sum().item<double>());
  }
  for (size_t i = 1; i < errors.size(); ++i) EXPECT_LT(errors[i], 0.95 * errors[i - 1]) << "levels " << i + 1;
}
