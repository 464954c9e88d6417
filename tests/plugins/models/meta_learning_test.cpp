// The meta-learning core of maml and metarec (plugins/transfer/common/meta_learning.hpp) on tiny models:
// second-order meta gradients against finite differences, gradient flow through the inner loop, weights,
// tau -> inf equal to maml's averaged update. The synthetic-family checks run the real plugins.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "../../../plugins/transfer/common/meta_learning.hpp"
#include "support/tiny_model.hpp"

using namespace xrec;
using namespace xrec::meta;
using xrec::testing::TinyModel;

namespace {

Batch batch_of(std::vector<int64_t> in, std::vector<int64_t> tg) {
  Batch b;
  b.inputs = torch::tensor(in, torch::kLong).reshape({2, -1});
  b.targets = torch::tensor(tg, torch::kLong).reshape({2, -1});
  return b;
}

// Two domains, each its own item table, one shared head: the shape of metarec's model without a backbone.
class TwoDomainModel : public SequenceModel {
 public:
  TwoDomainModel() {
    torch::manual_seed(11);
    tables.push_back(register_module("items0", torch::nn::Embedding(6, 3)));
    tables.push_back(register_module("items1", torch::nn::Embedding(6, 3)));
    head = register_module("head", torch::nn::Linear(3, 3));
    to(torch::kDouble);
  }
  int64_t num_domains() const override { return 2; }
  int64_t num_items(int64_t) const override { return 5; }
  Backbone& backbone() override { throw std::logic_error("no backbone"); }
  torch::Tensor item_vectors(int64_t d, const FastWeights& w = FastWeights()) override { return w(tables[d]->weight); }
  torch::Tensor encode(int64_t d, const torch::Tensor& in, const FastWeights& w = FastWeights()) override {
    auto e = item_vectors(d, w).index_select(0, in.reshape({-1})).reshape({in.size(0), in.size(1), -1});
    return torch::tanh(torch::matmul(e, w(head->weight).t()) + w(head->bias));
  }
  torch::Tensor loss(int64_t d, const Batch& b, const FastWeights& w = FastWeights()) override {
    auto logits = torch::matmul(encode(d, b.inputs, w), item_vectors(d, w).t());
    return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), b.targets.reshape({-1}),
                                                torch::nn::functional::CrossEntropyFuncOptions().ignore_index(0));
  }
  torch::Tensor score_next(int64_t d, const torch::Tensor& in, const FastWeights& w = FastWeights()) override {
    return torch::matmul(encode(d, in, w).select(1, in.size(1) - 1), item_vectors(d, w).t());
  }
  std::vector<torch::nn::Embedding> tables;
  torch::nn::Linear head{nullptr};
};

// TwoDomainModel with a shared codebook between the item tables and the head, as metarec's VQ: nearest
// codeword with a straight-through estimator, plus codebook + 0.25 x commitment loss. Read through FastWeights.
class QuantizedModel : public TwoDomainModel {
 public:
  QuantizedModel() {
    torch::manual_seed(13);
    codebook = register_parameter("codebook", torch::randn({4, 3}, torch::kDouble));
  }
  torch::Tensor item_vectors(int64_t d, const FastWeights& w = FastWeights()) override {
    return quantize(w(tables[d]->weight), w).first;
  }
  std::pair<torch::Tensor, torch::Tensor> quantize(const torch::Tensor& e, const FastWeights& w) {
    auto c = w(codebook);
    auto idx = torch::cdist(e.detach(), c.detach()).argmin(1);
    auto q = c.index_select(0, idx);
    auto aux = (q - e.detach()).pow(2).mean() + 0.25 * (e - q.detach()).pow(2).mean();
    return {e + (q - e).detach(), aux};
  }
  torch::Tensor loss(int64_t d, const Batch& b, const FastWeights& w = FastWeights()) override {
    auto [v, aux] = quantize(w(tables[d]->weight), w);
    auto e = v.index_select(0, b.inputs.reshape({-1})).reshape({b.inputs.size(0), b.inputs.size(1), -1});
    auto h = torch::tanh(torch::matmul(e, w(head->weight).t()) + w(head->bias));
    auto logits = torch::matmul(h, v.t());
    return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), b.targets.reshape({-1}),
                                                torch::nn::functional::CrossEntropyFuncOptions().ignore_index(0)) +
           aux;
  }
  torch::Tensor codebook;
};

const Batch kSupportA = batch_of({1, 2, 3, 2, 4, 5}, {2, 3, 4, 4, 5, 1});
const Batch kSupportB = batch_of({5, 4, 1, 3, 3, 2}, {4, 1, 2, 3, 2, 5});
const Batch kQuery = batch_of({3, 1, 5, 4, 2, 1}, {1, 5, 2, 2, 1, 3});

MetaOptions opts(bool first_order, int64_t steps = 2) {
  MetaOptions o;
  o.inner_steps = steps;
  o.inner_lr = 0.5;
  o.first_order = first_order;
  return o;
}

// Max |g - finite difference| over every other coordinate of every trainable tensor.
double max_fd_error(SequenceModel& m, const MetaOptions& o, const SourceTask& task, int64_t qdomain,
                    const std::vector<torch::Tensor>& g) {
  MetaOptions second = o;
  second.first_order = false;  // the loss as a function of theta is the same; only its gradient differs
  MetaLearner ref(m, second);
  const double eps = 1e-6;
  double err = 0;
  auto params = ref.trainable();
  for (size_t i = 0; i < params.size(); ++i) {
    auto flat = params[i].detach().view({-1});
    for (int64_t k = 0; k < flat.numel(); k += 2) {
      const double keep = flat[k].item<double>();
      flat[k] = keep + eps;
      const double up = m.loss(qdomain, kQuery, ref.fast(ref.adapt(task))).item<double>();
      flat[k] = keep - eps;
      const double down = m.loss(qdomain, kQuery, ref.fast(ref.adapt(task))).item<double>();
      flat[k] = keep;
      err = std::max(err, std::abs(g[i].view({-1})[k].item<double>() - (up - down) / (2 * eps)));
    }
  }
  return err;
}

}  // namespace

TEST(MetaLearning, SecondOrderMetaGradientMatchesFiniteDifferencesAndFirstOrderDoesNot) {
  TinyModel m(5, 3, torch::kDouble);
  SourceTask task{0, {kSupportA, kSupportB}};
  MetaLearner second(m, opts(false, 3)), first(m, opts(true, 3));
  auto g2 = second.task_gradient(task, 0, kQuery).grad;
  auto g1 = first.task_gradient(task, 0, kQuery).grad;
  EXPECT_LT(max_fd_error(m, opts(false, 3), task, 0, g2), 1e-6);  // exact up to the difference quotient
  EXPECT_GT(max_fd_error(m, opts(true, 3), task, 0, g1), 1e-3);   // drops the inner loop's curvature
}

TEST(MetaLearning, MetaGradientFlowsThroughTheInnerLoop) {
  // The source's item table (domain 1) reaches the target's query loss only through the inner steps (they
  // move the shared head): its meta gradient is non-zero in second order, exactly zero in first order.
  TwoDomainModel m;
  SourceTask task{1, {kSupportA}};
  auto g2 = MetaLearner(m, opts(false)).task_gradient(task, 0, kQuery).grad;
  auto g1 = MetaLearner(m, opts(true)).task_gradient(task, 0, kQuery).grad;
  // trainable order: items0 (target), items1 (source), head.weight, head.bias
  EXPECT_GT(g2[1].norm().item<double>(), 1e-4);
  EXPECT_EQ(g1[1].norm().item<double>(), 0.0);
  EXPECT_LT(max_fd_error(m, opts(false), task, 0, g2), 1e-6);
  // The meta gradient is the query gradient at phi, not at theta: the inner steps changed it.
  auto at_theta = torch::autograd::grad({m.loss(0, kQuery)}, {m.head->weight})[0];
  EXPECT_GT((g1[2] - at_theta).abs().max().item<double>(), 1e-4);
  // A learned inner learning rate reaches the query loss only through the inner loop: its gradient is
  // non-zero in both orders (first order: -<dL/dphi, g_t>).
  for (bool fo : {false, true}) {
    MetaOptions o = opts(fo);
    o.learned_lr = true;
    auto r = MetaLearner(m, o).task_gradient(task, 0, kQuery);
    ASSERT_EQ(r.lr_grad.size(), 2u * 4u);  // steps x trainable tensors
    EXPECT_GT(r.lr_grad[2].abs().item<double>(), 1e-6) << "first_order=" << fo;  // step 0, head.weight
    EXPECT_EQ(r.lr_grad[0].abs().item<double>(), 0.0);  // the target's table never moves in the inner loop
  }
}

TEST(MetaLearning, SimilarityIsTheMeanCosineOverTensorsWithTheChosenSign) {
  std::vector<torch::Tensor> delta{torch::tensor({1.0, 0.0}, torch::kDouble), torch::tensor({1.0, 1.0}, torch::kDouble), torch::zeros({2}, torch::kDouble)};
  std::vector<torch::Tensor> g{torch::tensor({1.0, 0.0}, torch::kDouble), torch::tensor({-1.0, -1.0}, torch::kDouble), torch::tensor({1.0, 2.0}, torch::kDouble)};
  // cos = 1 and -1; the third tensor (no inner step) is left out
  EXPECT_NEAR(mean_cosine(delta, g), 0.0, 1e-12);
  g[1] = torch::tensor({0.0, 1.0}, torch::kDouble);
  EXPECT_NEAR(mean_cosine(delta, g), (1.0 + std::sqrt(0.5)) / 2, 1e-12);
  EXPECT_EQ(mean_cosine({torch::zeros({2}, torch::kDouble)}, {torch::ones({2}, torch::kDouble)}), 0.0);

  TwoDomainModel m;
  SourceTask task{1, {kSupportA}};
  MetaOptions a = opts(false), b = opts(false);
  b.sign = Sign::PhiMinusTheta;
  const double sa = MetaLearner(m, a).task_gradient(task, 0, kQuery).similarity;
  const double sb = MetaLearner(m, b).task_gradient(task, 0, kQuery).similarity;
  EXPECT_NE(sa, 0.0);
  EXPECT_DOUBLE_EQ(sa, -sb);
}

TEST(MetaLearning, WeightsAreSoftmaxOverTemperatureOrUniform) {
  auto w = task_weights({0.2, 0.1, -0.1}, Weighting::Softmax, 0.1);
  const double z = std::exp(2.0) + std::exp(1.0) + std::exp(-1.0);
  EXPECT_NEAR(w[0], std::exp(2.0) / z, 1e-12);
  EXPECT_NEAR(w[1], std::exp(1.0) / z, 1e-12);
  EXPECT_NEAR(w[2], std::exp(-1.0) / z, 1e-12);
  for (double x : task_weights({0.2, 0.1, -0.1}, Weighting::Softmax, INFINITY)) EXPECT_DOUBLE_EQ(x, 1.0 / 3);
  for (double x : task_weights({0.2, 0.1, -0.1}, Weighting::Uniform, 0.1)) EXPECT_DOUBLE_EQ(x, 1.0 / 3);
  EXPECT_THROW(task_weights({0.1}, Weighting::Softmax, 0.0), Error);
}

TEST(MetaLearning, InfiniteTemperatureGivesMamlsAveragedUpdate) {
  // Two copies of the same model: metarec with tau = inf, maml (uniform). Same tasks, same query.
  std::vector<SourceTask> tasks{{1, {kSupportA, kSupportB}}, {1, {kSupportB, kSupportA}}, {0, {kSupportB}}};
  TwoDomainModel ma, mb, mc;
  MetaOptions inf = opts(false), maml = opts(false), sharp = opts(false);
  inf.tau = INFINITY;
  maml.weighting = Weighting::Uniform;
  sharp.tau = 0.01;
  MetaLearner la(ma, inf), lb(mb, maml), lc(mc, sharp);
  auto ra = la.step(tasks, 0, kQuery);
  auto rb = lb.step(tasks, 0, kQuery);
  auto rc = lc.step(tasks, 0, kQuery);
  for (size_t i = 0; i < ra.combined.size(); ++i) {
    auto mean = (ra.tasks[0].grad[i] + ra.tasks[1].grad[i] + ra.tasks[2].grad[i]) / 3;
    EXPECT_TRUE(torch::allclose(ra.combined[i], mean, 1e-12, 1e-12));
  }
  auto pa = ma.parameters(), pb = mb.parameters(), pc = mc.parameters();
  double diff_sharp = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    diff_sharp = std::max(diff_sharp, (pa[i] - pc[i]).abs().max().item<double>());
  }
  EXPECT_GT(diff_sharp, 1e-6);  // a finite tau does weigh the sources: the check above is not vacuous
  // The similarities differ between the tasks, so a finite tau gives unequal weights.
  EXPECT_NE(rc.tasks[0].weight, rc.tasks[1].weight);
}

TEST(MetaLearning, OuterStepIsClippedAdamWOnTheCombinedGradient) {
  TwoDomainModel m, ref;
  MetaOptions o = opts(true);
  o.grad_clip = 1e-3;
  o.lr = 0.1;
  MetaLearner l(m, o);
  auto r = l.step({{1, {kSupportA}}}, 0, kQuery);
  ASSERT_GT(r.grad_norm, 1e-3);
  // The same update by hand: clip the combined gradient to norm 1e-3, one AdamW step.
  std::vector<torch::Tensor> ps = ref.parameters();
  for (size_t i = 0; i < ps.size(); ++i) ps[i].mutable_grad() = r.combined[i] * (1e-3 / (r.grad_norm + 1e-6));
  torch::optim::AdamW opt(ps, torch::optim::AdamWOptions(0.1).weight_decay(0.01));
  opt.step();
  auto pm = m.parameters();
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_TRUE(torch::allclose(pm[i], ps[i], 1e-9, 1e-12)) << i;
}

TEST(MetaLearning, SecondOrderMetaGradientReachesASharedCodebook) {
  // The codebook is read through FastWeights like every parameter: the inner steps move it (codebook loss of
  // the source), and the target's meta gradient reaches it, with a second-order part through the inner steps.
  // (No finite-difference check here: the straight-through estimator is a surrogate gradient by design.)
  QuantizedModel m;
  SourceTask task{1, {kSupportA, kSupportB}};
  MetaLearner second(m, opts(false));
  auto r = second.task_gradient(task, 0, kQuery);
  size_t cb = 0;  // where the codebook sits among the trainable tensors
  while (!second.trainable()[cb].is_same(m.codebook)) ++cb;
  ASSERT_EQ(r.grad[cb].sizes(), m.codebook.sizes());
  EXPECT_GT(r.grad[cb].norm().item<double>(), 1e-6);
  auto first = MetaLearner(m, opts(true)).task_gradient(task, 0, kQuery).grad;
  EXPECT_GT((first[cb] - r.grad[cb]).abs().max().item<double>(), 1e-8);
}
