// The ant item encoder through the real loader: parameter names, zero-initialised gates (uniform expert
// weights), parametric whitening, fusion and the masking of a missing modality, gate noise in training only,
// the cross-modal contrastive loss against a hand computation, FastWeights, and bad input.
#include <cmath>
#include <limits>
#include <set>

#include "model_plugin_harness.hpp"
#include "xrec/api/item_encoder.hpp"
#include "xrec/engine/item_encoders.hpp"
#include "xrec/engine/trainer.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {

// Three items: text [4] (item 2 has none: a zero row), attributes [2].
DomainData toy_domain() {
  DomainData d;
  d.name = "toy";
  d.num_items = 3;
  d.item_ids = {"", "i1", "i2", "i3"};
  d.source_files = {"toy.text"};
  d.item_features = {
      {"text", 4, {0, 0, 0, 0, /*1*/ 1, 0, 2, 0, /*2*/ 0, 0, 0, 0, /*3*/ 0.5f, 1, 0, -1}},
      {"attributes", 2, {0, 0, /*1*/ 1, 0, /*2*/ 0, 1, /*3*/ 1, 1}},
  };
  return d;
}

const std::map<std::string, Value> kToy = {{"modalities", std::vector<std::string>{"text", "attributes"}},
                                           {"experts", 3},
                                           {"dropout", 0.0},
                                           {"fusion", std::vector<std::string>{"text", "attributes"}},
                                           {"cross_modal", std::vector<std::string>{"text", "attributes"}}};

std::shared_ptr<ItemEncoder> make_ant(const std::map<std::string, Value>& values, const std::vector<ItemDomain>& domains,
                                      int64_t dim = 2, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto enc = plugin_registry().get(Kind::ItemEncoder, "ant").item_encoder(
      component_params(Kind::ItemEncoder, "ant", values), PluginContext());
  enc->bind(domains, dim);
  enc->eval();
  return enc;
}

torch::Tensor param_of(ItemEncoder& e, const std::string& name) { return e.named_parameters()[name]; }

// The expert maps [E, D, in] and biases [E, in or D] of a modality, from their stored (flat) layout.
torch::Tensor experts(ItemEncoder& e, const std::string& m, int64_t E = 3, int64_t D = 2) {
  auto w = param_of(e, "adapters." + m + ".experts.weight");
  return w.view({E, D, w.size(1)});
}
torch::Tensor biases(ItemEncoder& e, const std::string& m, int64_t E = 3) {
  return param_of(e, "adapters." + m + ".experts.bias").view({E, -1});
}

torch::Tensor features(const DomainData& d, size_t f) {
  auto& x = d.item_features[f];
  return torch::tensor(x.values).view({d.num_items + 1, x.dim});
}

// Mean over the experts (a uniform gate) of whitening (x - b_e) W_e^T or linear x W_e^T + c_e, by hand.
torch::Tensor uniform_mixture(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              bool whiten) {
  torch::Tensor sum;
  for (int64_t e = 0; e < weight.size(0); ++e) {
    auto y = whiten ? torch::matmul(x - bias[e], weight[e].t()) : torch::matmul(x, weight[e].t()) + bias[e];
    sum = sum.defined() ? sum + y : y;
  }
  return sum / static_cast<double>(weight.size(0));
}

}  // namespace

TEST(Ant, IsListedWithItsDefaults) {
  const Component& c = plugin_registry().get(Kind::ItemEncoder, "ant");
  Params p = Params::defaults(c.params, "ant");
  EXPECT_EQ(p.integer("experts"), 8);
  EXPECT_DOUBLE_EQ(p.real("fusion_weight"), 0.1);
  EXPECT_DOUBLE_EQ(p.real("cross_modal_weight"), 1e-3);
  EXPECT_DOUBLE_EQ(p.real("dropout"), 0.2);
  EXPECT_TRUE(p.flag("noise"));
}

TEST(Ant, KeepsItsParameterNamesAndShapes) {
  DomainData d = toy_domain();
  d.item_features.push_back({"numeric:price", 1, {0, 1, 2, 3}});
  auto values = kToy;
  values["modalities"] = std::vector<std::string>{"text", "attributes", "numeric:price"};
  auto enc = make_ant(values, {{"toy", 3, &d}}, 5);
  EXPECT_EQ(parameter_names(*enc),
            (std::vector<std::string>{"adapters.text.experts.weight", "adapters.text.experts.bias",
                                      "adapters.text.gate.w_gate", "adapters.text.gate.w_noise",
                                      "adapters.attributes.experts.weight", "adapters.attributes.experts.bias",
                                      "adapters.attributes.gate.w_gate", "adapters.attributes.gate.w_noise",
                                      "adapters.numeric_price.experts.weight", "adapters.numeric_price.experts.bias",
                                      "adapters.numeric_price.gate.w_gate", "adapters.numeric_price.gate.w_noise"}));
  EXPECT_EQ(param_of(*enc, "adapters.text.experts.weight").sizes(), (std::vector<int64_t>{15, 4}));  // [E * D, in]
  EXPECT_EQ(param_of(*enc, "adapters.text.experts.bias").sizes(), (std::vector<int64_t>{12}));        // whitening b: E * in
  EXPECT_EQ(param_of(*enc, "adapters.attributes.experts.bias").sizes(), (std::vector<int64_t>{15}));  // linear c: E * D
  EXPECT_EQ(param_of(*enc, "adapters.text.gate.w_gate").sizes(), (std::vector<int64_t>{12}));         // W_g [in, E]
  // Gates and biases start at zero.
  for (auto& n : {"adapters.text.gate.w_gate", "adapters.text.gate.w_noise", "adapters.text.experts.bias",
                  "adapters.attributes.experts.bias"})
    EXPECT_EQ(param_of(*enc, n).abs().sum().item<double>(), 0) << n;
  EXPECT_NEAR(param_of(*enc, "adapters.text.experts.weight").std().item<double>(), 0.02, 0.01);
}

TEST(Ant, ZeroGatesWeighExpertsUniformlyAndWhiteningSubtractsTheBias) {
  DomainData d = toy_domain();
  auto enc = make_ant(kToy, {{"toy", 3, &d}});
  {  // a whitening bias that is not zero, so that the test sees it subtracted
    torch::NoGradGuard g;
    param_of(*enc, "adapters.text.experts.bias").copy_(torch::randn({12}));
    param_of(*enc, "adapters.attributes.experts.bias").copy_(torch::randn({6}));
  }
  auto text = uniform_mixture(features(d, 0), experts(*enc, "text"), biases(*enc, "text"), true);
  auto attr = uniform_mixture(features(d, 1), experts(*enc, "attributes"),
                              biases(*enc, "attributes"), false);
  auto out = enc->forward(0).detach();
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(torch::equal(out[0], torch::zeros({2})));  // padding
  // Items 1 and 3 have both modalities: text + attributes + 0.1 * text ⊙ attributes.
  for (int64_t i : {1, 3})
    EXPECT_TRUE(close(out[i], text[i] + attr[i] + 0.1 * text[i] * attr[i])) << "item " << i;
  // Item 2 has no text: the text adapter's output (of a zero row: -b W^T, not zero) is masked out of the sum
  // and of the product.
  EXPECT_GT(text[2].abs().sum().item<double>(), 1e-4);
  EXPECT_TRUE(close(out[2], attr[2]));
}

TEST(Ant, WithoutAFusionPairTheVectorIsTheSum) {
  DomainData d = toy_domain();
  auto values = kToy;
  values["fusion"] = std::vector<std::string>{};
  auto enc = make_ant(values, {{"toy", 3, &d}});
  auto text = uniform_mixture(features(d, 0), experts(*enc, "text"), biases(*enc, "text"), true);
  auto attr = uniform_mixture(features(d, 1), experts(*enc, "attributes"),
                              biases(*enc, "attributes"), false);
  EXPECT_TRUE(close(enc->forward(0).detach()[1], text[1] + attr[1]));
}

TEST(Ant, TheGateFollowsItsWeightsAndIsNoisyInTrainingOnly) {
  DomainData d = toy_domain();
  auto values = kToy;
  values["modalities"] = std::vector<std::string>{"text"};
  values["fusion"] = std::vector<std::string>{};
  values["cross_modal"] = std::vector<std::string>{};
  auto enc = make_ant(values, {{"toy", 3, &d}});
  // A gate that puts (nearly) all weight on expert 1 for item 1: the output is that expert's whitening.
  auto gate = torch::zeros({4, 3});
  gate[0][1] = 50;
  FastWeights w;
  w.set(param_of(*enc, "adapters.text.gate.w_gate"), gate.view({-1}));
  auto x = features(d, 0)[1];
  auto expert1 = torch::matmul(x, experts(*enc, "text")[1].t());
  EXPECT_TRUE(torch::allclose(enc->forward(0, w).detach()[1], expert1, 1e-4, 1e-5));
  // Evaluation is deterministic; training draws gate noise (std softplus(0) + 0.01 with zero W_n).
  EXPECT_TRUE(torch::equal(enc->forward(0), enc->forward(0)));
  enc->train();
  EXPECT_GT(max_diff(enc->forward(0), enc->forward(0)), 1e-6);
  auto off = values;
  off["noise"] = false;
  auto quiet = make_ant(off, {{"toy", 3, &d}});
  quiet->train();
  EXPECT_TRUE(torch::equal(quiet->forward(0), quiet->forward(0)));
}

TEST(Ant, CrossModalLossIsInfoNceOverTheBatchsItemsWithBothModalities) {
  DomainData d = toy_domain();
  auto enc = make_ant(kToy, {{"toy", 3, &d}});
  auto text = uniform_mixture(features(d, 0), experts(*enc, "text"), biases(*enc, "text"), true);
  auto attr = uniform_mixture(features(d, 1), experts(*enc, "attributes"),
                              biases(*enc, "attributes"), false);
  // The batch predicts items 3, 1, 3, 2: distinct items 1 and 3 have both modalities (2 has no text).
  auto loss = enc->auxiliary_loss(0, torch::tensor({3, 1, 3, 2}, torch::kLong));
  ASSERT_TRUE(loss.defined());
  auto cosine = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a * b).sum().item<double>() / (a.norm().item<double>() * b.norm().item<double>());
  };
  const std::vector<int64_t> items = {1, 3};
  double total = 0;
  for (int64_t i : items) {
    double den = 0;
    for (int64_t j : items) den += std::exp(cosine(text[i], attr[j]) / 0.07);
    total += -(cosine(text[i], attr[i]) / 0.07 - std::log(den));
  }
  EXPECT_NEAR(loss.item<double>(), 1e-3 * total / 2, 1e-6);
  // No pair configured: no auxiliary loss.
  auto values = kToy;
  values["cross_modal"] = std::vector<std::string>{};
  EXPECT_FALSE(make_ant(values, {{"toy", 3, &d}})->auxiliary_loss(0, torch::tensor({1, 3})).defined());
}

TEST(Ant, ReadsEveryParameterThroughFastWeights) {
  DomainData d = toy_domain();
  auto enc = make_ant(kToy, {{"toy", 3, &d}}, 3);
  enc->train();  // the noise weights act in training only
  int checked = 0;
  for (auto& item : enc->named_parameters()) {
    auto substitute = (item.value().detach() + 0.5 * torch::randn_like(item.value())).requires_grad_();
    FastWeights w;
    w.set(item.value(), substitute);
    enc->zero_grad(true);
    torch::manual_seed(5);
    auto out = enc->forward(0, w);
    out.sum().backward();
    EXPECT_TRUE(substitute.grad().defined() && substitute.grad().abs().sum().item<double>() > 0) << item.key();
    EXPECT_FALSE(item.value().grad().defined() && item.value().grad().abs().sum().item<double>() > 0) << item.key();
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(Ant, SharesAdaptersAcrossDomainsAndPadsNarrowerLinearInputs) {
  DomainData a = toy_domain(), b = toy_domain();
  b.name = "other";
  b.num_items = 1;
  b.item_ids = {"", "j1"};
  b.item_features = {{"text", 4, {0, 0, 0, 0, 1, 1, 1, 1}}, {"attributes", 1, {0, 1}}};
  auto enc = make_ant(kToy, {{"toy", 3, &a}, {"other", 1, &b}});
  EXPECT_EQ(param_of(*enc, "adapters.attributes.experts.weight").size(1), 2);  // the widest domain
  EXPECT_EQ(enc->forward(1).sizes(), (std::vector<int64_t>{2, 2}));
  // A whitening modality must have one width.
  b.item_features[0] = {"text", 2, {0, 0, 1, 1}};
  expect_input_error([&] { make_ant(kToy, {{"toy", 3, &a}, {"other", 1, &b}}); },
                     {"modality 'text'", "2 wide in dataset 'other'", "4 wide"});
}

TEST(Ant, RefusesBadInputBeforeTraining) {
  DomainData d = toy_domain();
  auto values = kToy;
  values["modalities"] = std::vector<std::string>{"text", "vectors"};
  values["fusion"] = std::vector<std::string>{};
  values["cross_modal"] = std::vector<std::string>{};
  expect_input_error([&] { make_ant(values, {{"toy", 3, &d}}); },
                     {"dataset 'toy'", "modality 'vectors'", "[text, attributes]", "vector_file"});
  // Rows that do not match the items.
  DomainData short_rows = toy_domain();
  short_rows.item_features[0].values.resize(12);
  expect_input_error([&] { make_ant(kToy, {{"toy", 3, &short_rows}}); },
                     {"dataset 'toy'", "toy.text", "item feature 'text'", "12 values", "expected 4 rows"});
  // NaN or infinite values: the item (raw id), the key and the file.
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    DomainData nan = toy_domain();
    nan.item_features[1].values[2 * 2 + 1] = bad;
    expect_input_error([&] { make_ant(kToy, {{"toy", 3, &nan}}); },
                       {"toy.text", "item feature 'attributes'", "'i2' (item 2)", "column 1", "finite"});
  }
  // Config mistakes.
  auto empty = kToy;
  empty["modalities"] = std::vector<std::string>{};
  expect_input_error([&] { make_ant(empty, {{"toy", 3, &d}}); }, {"modalities is empty"});
  auto fusion = kToy;
  fusion["fusion"] = std::vector<std::string>{"text", "image"};
  expect_input_error([&] { make_ant(fusion, {{"toy", 3, &d}}); }, {"fusion names 'image'", "not in modalities"});
  auto one = kToy;
  one["cross_modal"] = std::vector<std::string>{"text"};
  expect_input_error([&] { make_ant(one, {{"toy", 3, &d}}); }, {"cross_modal must name two different modalities"});
  expect_input_error([&] { make_ant(kToy, {{"bare", 3, nullptr}}); }, {"has no data"});
}

// Re-learning re-initialises the adapters with the host's `reinit` rule: gates and biases come back to zero (as
// ANT's re-learning wants), expert maps are redrawn; a transductive model's id tables are apart (item_ids.*).
TEST(Ant, HostReinitZeroesGatesAndBiasesAndRedrawsExperts) {
  DomainData d = toy_domain();
  auto enc = plugin_registry().get(Kind::ItemEncoder, "ant").item_encoder(
      component_params(Kind::ItemEncoder, "ant", kToy), PluginContext());
  engine::HostSequenceModel model({{"toy", 3, &d}}, enc, make_backbone("sasrec", {{"hidden", 4}, {"heads", 1}}),
                                  nullptr, engine::LossKind::CrossEntropy,
                                  std::make_shared<engine::IdItemEncoder>(0.02));
  auto params = model.named_parameters();
  ASSERT_TRUE(params.contains("item_encoder.adapters.text.gate.w_gate"));
  ASSERT_TRUE(params.contains("item_ids.items_0"));
  {
    torch::NoGradGuard g;
    for (auto& p : enc->parameters()) p.fill_(0.3);
  }
  engine::TrainOptions o;
  o.reinit = {"item_encoder.adapters.*"};
  engine::prepare_stage(model, o, "relearn");
  for (auto& item : enc->named_parameters()) {
    const bool map = item.key().find("experts.weight") != std::string::npos;
    if (map) {
      EXPECT_GT(max_diff(item.value(), torch::full_like(item.value(), 0.3)), 1e-3) << item.key();
    } else {
      EXPECT_EQ(item.value().abs().sum().item<double>(), 0) << item.key();
    }
  }
}

// A linear modality read as sparse rows (embedding bags) computes what the dense matrix products compute (the
// whitening text modality stays dense under `always`, a - b is dense): the item vectors, the cross-modal loss over a subset of rows, and every gradient. Gates and biases are set away
// from zero so that each term shows.
TEST(Ant, SparseInputsComputeTheDensePathsVectorsLossAndGradients) {
  DomainData d = toy_domain();
  d.item_features[1] = {"attributes", 5, {0, 0, 0, 0, 0, /*1*/ 1, 0, 0, 1, 0, /*2*/ 0, 0, 0, 0, 2, /*3*/ 0, 1, 1, 0, 1}};
  auto make = [&](const std::string& sparse) {
    auto values = kToy;
    values["sparse_inputs"] = sparse;
    auto enc = make_ant(values, {{"toy", 3, &d}}, 2, 4);
    torch::manual_seed(9);
    torch::NoGradGuard g;
    for (auto& p : enc->parameters()) p.copy_(torch::randn_like(p));
    return enc;
  };
  auto dense = make("never"), sparse = make("always");
  auto run = [](ItemEncoder& e) {
    e.zero_grad(true);
    auto out = e.forward(0);
    auto loss = e.auxiliary_loss(0, torch::tensor({3, 2, 1}, torch::kLong));
    (out.pow(2).sum() + loss).backward();
    return std::make_pair(out.detach(), loss.detach());
  };
  auto [dense_out, dense_loss] = run(*dense);
  auto [sparse_out, sparse_loss] = run(*sparse);
  EXPECT_TRUE(torch::allclose(dense_out, sparse_out, 1e-5, 1e-6)) << dense_out << sparse_out;
  EXPECT_NEAR(dense_loss.item<double>(), sparse_loss.item<double>(), 1e-7);
  auto dp = dense->named_parameters(), sp = sparse->named_parameters();
  int compared = 0;
  for (auto& item : dp) {
    // In evaluation the noise weights take no part (no gradient on either path).
    if (item.key().find("w_noise") != std::string::npos) {
      EXPECT_FALSE(sp[item.key()].grad().defined()) << item.key();
      continue;
    }
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    ++compared;
    EXPECT_TRUE(torch::allclose(item.value().grad(), sp[item.key()].grad(), 1e-4, 1e-5)) << item.key();
  }
  EXPECT_EQ(compared, 6);
  // In training (dropout 0 here) the gate noise draws the same numbers on both paths: the noise weights'
  // gradients agree too.
  dense->train();
  sparse->train();
  torch::manual_seed(11);
  auto [dense_noisy, l1] = run(*dense);
  torch::manual_seed(11);
  auto [sparse_noisy, l2] = run(*sparse);
  EXPECT_TRUE(torch::allclose(dense_noisy, sparse_noisy, 1e-5, 1e-6));
  EXPECT_GT(max_diff(dense_noisy, dense_out), 1e-6);
  for (auto& key : {"adapters.attributes.gate.w_noise", "adapters.text.gate.w_noise"})
    EXPECT_TRUE(torch::allclose(dp[key].grad(), sp[key].grad(), 1e-4, 1e-5)) << key;
  // auto: 6 nonzeros in 20 values is not sparse enough (> 5%); the outputs agree whichever path it takes.
  EXPECT_TRUE(torch::allclose(make("auto")->forward(0).detach(), dense_out, 1e-5, 1e-6));
}

// Dropout on sparse rows keeps or drops each nonzero and scales the kept ones by 1 / (1 - p), as dense dropout
// does to a row: with one expert, item 3's attributes [1, 1] give one of c, 2 W_0 + c, 2 W_1 + c, 2 (W_0 + W_1) + c.
TEST(Ant, SparseDropoutDropsNonzerosAndScalesTheKeptOnes) {
  DomainData d = toy_domain();
  auto values = kToy;
  values["modalities"] = std::vector<std::string>{"attributes"};
  values["fusion"] = std::vector<std::string>{};
  values["cross_modal"] = std::vector<std::string>{};
  values["experts"] = 1;
  values["dropout"] = 0.5;
  values["noise"] = false;
  values["sparse_inputs"] = std::string("always");
  auto enc = make_ant(values, {{"toy", 3, &d}});
  {
    torch::NoGradGuard g;
    param_of(*enc, "adapters.attributes.experts.bias").copy_(torch::tensor({0.5f, -0.25f}));
  }
  auto W = experts(*enc, "attributes", 1)[0];  // [D, in]
  auto c = biases(*enc, "attributes", 1)[0];
  const std::vector<torch::Tensor> allowed = {c, 2 * W.select(1, 0) + c, 2 * W.select(1, 1) + c,
                                              2 * (W.select(1, 0) + W.select(1, 1)) + c};
  enc->train();
  std::set<size_t> seen;
  for (int draw = 0; draw < 40; ++draw) {
    auto v = enc->forward(0).detach()[3];
    size_t match = allowed.size();
    for (size_t k = 0; k < allowed.size(); ++k)
      if (torch::allclose(v, allowed[k], 1e-5, 1e-6)) match = k;
    ASSERT_LT(match, allowed.size()) << "draw " << draw << ": " << v;
    seen.insert(match);
  }
  EXPECT_GE(seen.size(), 3u);  // 40 draws of 4 equally likely outcomes
}
