// Second-order meta gradients through FastWeights, checked against finite differences on a tiny model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/tiny_model.hpp"
#include "xrec/api/fast_weights.hpp"

using namespace xrec;
using xrec::testing::TinyModel;

namespace {
Batch batch_of(std::vector<int64_t> in, std::vector<int64_t> tg) {
  Batch b;
  b.inputs = torch::tensor(in, torch::kLong).reshape({2, -1});
  b.targets = torch::tensor(tg, torch::kLong).reshape({2, -1});
  return b;
}
// L_query(theta - a * grad L_support(theta)), with the inner gradient kept in the graph when `second`.
torch::Tensor meta_loss(TinyModel& m, const Batch& support, const Batch& query, double a, bool second) {
  auto params = m.parameters();
  auto g = torch::autograd::grad({m.loss(0, support)}, params, {}, true, second);
  std::vector<torch::Tensor> phi;
  for (size_t i = 0; i < params.size(); ++i) phi.push_back(params[i] - a * (second ? g[i] : g[i].detach()));
  return m.loss(0, query, FastWeights::from(m, phi));
}
}  // namespace

TEST(MetaGradient, SecondOrderMatchesFiniteDifferences) {
  TinyModel m(5, 3, torch::kDouble);
  const Batch support = batch_of({1, 2, 3, 2, 4, 5}, {2, 3, 4, 4, 5, 1});
  const Batch query = batch_of({3, 1, 5, 4, 2, 1}, {1, 5, 2, 2, 1, 3});
  const double a = 0.5;
  auto params = m.parameters();
  auto second = torch::autograd::grad({meta_loss(m, support, query, a, true)}, params);
  auto first = torch::autograd::grad({meta_loss(m, support, query, a, false)}, params);
  const double eps = 1e-6;
  double max_err = 0, max_first_err = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto flat = params[i].detach().view({-1});  // shares storage with the parameter
    for (int64_t k = 0; k < flat.numel(); k += 2) {
      const double keep = flat[k].item<double>();
      flat[k] = keep + eps;
      const double up = meta_loss(m, support, query, a, true).item<double>();
      flat[k] = keep - eps;
      const double down = meta_loss(m, support, query, a, true).item<double>();
      flat[k] = keep;
      const double fd = (up - down) / (2 * eps);
      max_err = std::max(max_err, std::abs(second[i].view({-1})[k].item<double>() - fd));
      max_first_err = std::max(max_first_err, std::abs(first[i].view({-1})[k].item<double>() - fd));
    }
  }
  EXPECT_LT(max_err, 1e-6);        // exact up to the difference quotient's error
  EXPECT_GT(max_first_err, 1e-4);  // first order drops the inner loop's curvature: visibly off
}

TEST(MetaGradient, ScoringUnderFastWeightsEqualsScoringAfterCopyingThemIn) {
  TinyModel m(5);
  auto inputs = torch::tensor({0, 1, 2, 3, 4, 5}, torch::kLong).reshape({2, 3});
  std::vector<torch::Tensor> phi;
  for (auto& p : m.parameters()) phi.push_back(p.detach() + 0.1 * torch::randn_like(p));
  auto fast = m.score_next(0, inputs, FastWeights::from(m, phi));
  {
    torch::NoGradGuard g;
    auto params = m.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(phi[i]);
  }
  EXPECT_TRUE(torch::allclose(fast, m.score_next(0, inputs)));
}
