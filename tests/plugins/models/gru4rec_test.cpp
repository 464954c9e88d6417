// gru4rec through the real loader: the gate maths against torch's own GRU, left padding keeping the state at
// zero, causality, FastWeights, RecBole's parameter layout and initialisation.
#include "model_plugin_harness.hpp"

#include <cmath>

using namespace xrec;
using namespace xrec::test::models;

namespace {
const std::map<std::string, Value> kSmall = {{"hidden", 8}, {"gru_hidden", 12}, {"max_len", 10}};

std::map<std::string, Value> with(std::map<std::string, Value> base, const std::map<std::string, Value>& extra) {
  for (auto& [k, v] : extra) base[k] = v;
  return base;
}

// gru4rec's output for a sequence without padding against at::gru (torch.nn.GRU's kernel) with the same
// weights, followed by the same dense layer.
void expect_matches_torch_gru(bool bias, int64_t layers) {
  auto b = make_backbone("gru4rec", with(kSmall, {{"bias", bias}, {"layers", layers}}));
  auto p = b->named_parameters();
  std::vector<torch::Tensor> flat;  // torch's order: w_ih, w_hh[, b_ih, b_hh] per layer
  for (int64_t l = 0; l < layers; ++l) {
    const std::string s = "_l" + std::to_string(l);
    flat.push_back(p["gru_weight_ih" + s]);
    flat.push_back(p["gru_weight_hh" + s]);
    if (bias) {
      flat.push_back(p["gru_bias_ih" + s]);
      flat.push_back(p["gru_bias_hh" + s]);
    }
  }
  torch::NoGradGuard no_grad;
  auto items = torch::randn({3, 7, 8});
  auto h0 = torch::zeros({layers, 3, 12});
  auto gru = std::get<0>(at::gru(items, h0, flat, bias, layers, /*dropout=*/0.0, /*train=*/false,
                                 /*bidirectional=*/false, /*batch_first=*/true));
  auto expected = torch::linear(gru, p["dense_weight"], p["dense_bias"]);
  auto actual = b->forward(items, torch::zeros({3, 7}, torch::kBool));
  EXPECT_TRUE(close(actual, expected)) << "bias " << bias << ", layers " << layers << ": off by "
                                       << max_diff(actual, expected);
}
}  // namespace

TEST(GRU4Rec, IsANextItemBackbone) {
  auto b = make_backbone("gru4rec", kSmall);
  EXPECT_EQ(b->hidden_size(), 8);
  EXPECT_EQ(b->max_len(), 10);
  expect_next_item_backbone(*b);
  expect_shape(*b);
}

TEST(GRU4Rec, MatchesTorchsGru) {
  expect_matches_torch_gru(/*bias=*/true, /*layers=*/1);
  expect_matches_torch_gru(/*bias=*/true, /*layers=*/2);
  expect_matches_torch_gru(/*bias=*/false, /*layers=*/2);
}

TEST(GRU4Rec, HasRecBolesLayoutAndInitialisation) {
  // RecBole's defaults: embedding_size 64, hidden_size 128, one layer, nn.GRU(bias=False), dense 128 -> 64.
  auto b = make_backbone("gru4rec");
  EXPECT_EQ(parameter_names(*b), (std::vector<std::string>{"gru_weight_ih_l0", "gru_weight_hh_l0", "dense_weight",
                                                           "dense_bias"}));
  auto p = b->named_parameters();
  EXPECT_EQ(p["gru_weight_ih_l0"].sizes(), (std::vector<int64_t>{384, 64}));
  EXPECT_EQ(p["gru_weight_hh_l0"].sizes(), (std::vector<int64_t>{384, 128}));
  EXPECT_EQ(p["dense_weight"].sizes(), (std::vector<int64_t>{64, 128}));
  // xavier_uniform on the GRU weights: uniform in +-sqrt(6 / (fan_in + fan_out)), so the std is bound / sqrt(3).
  auto expect_xavier_uniform = [](const torch::Tensor& t) {
    const double bound = std::sqrt(6.0 / static_cast<double>(t.size(0) + t.size(1)));
    EXPECT_LE(t.abs().max().item<double>(), bound);
    EXPECT_NEAR(t.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound);
  };
  expect_xavier_uniform(p["gru_weight_ih_l0"]);
  expect_xavier_uniform(p["gru_weight_hh_l0"]);
  // The dense layer keeps nn.Linear's default: uniform in +-1/sqrt(128).
  EXPECT_LE(p["dense_weight"].abs().max().item<double>(), 1 / std::sqrt(128.0));
  auto biased = make_backbone("gru4rec", {{"bias", true}, {"layers", 2}});
  EXPECT_EQ(parameter_names(*biased),
            (std::vector<std::string>{"gru_weight_ih_l0", "gru_weight_hh_l0", "gru_bias_ih_l0", "gru_bias_hh_l0",
                                      "gru_weight_ih_l1", "gru_weight_hh_l1", "gru_bias_ih_l1", "gru_bias_hh_l1",
                                      "dense_weight", "dense_bias"}));
  // init: xavier also covers deeper layers, xavier_normal on dense, zero biases.
  auto xavier = make_backbone("gru4rec", {{"bias", true}, {"layers", 2}, {"init", "xavier"}});
  auto q = xavier->named_parameters();
  expect_xavier_uniform(q["gru_weight_ih_l1"]);
  EXPECT_EQ(q["gru_bias_hh_l1"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(q["dense_bias"].abs().sum().item<double>(), 0.0);
  EXPECT_NEAR(q["dense_weight"].std().item<double>(), std::sqrt(2.0 / (64 + 128)), 0.01);
}

TEST(GRU4Rec, LeftPaddingChangesNothing) {
  expect_left_padding_invariant(*make_backbone("gru4rec", kSmall));
  expect_left_padding_invariant(*make_backbone("gru4rec", with(kSmall, {{"bias", true}, {"layers", 2}})));
}

TEST(GRU4Rec, StateStaysZeroThroughPadding) {
  // With biases a GRU step from a zero state on any input moves the state; padding steps must not.
  auto b = make_backbone("gru4rec", with(kSmall, {{"bias", true}}));
  torch::NoGradGuard no_grad;
  auto [items, padding] = left_padded(torch::randn({3, 8}), 4);
  auto out = b->forward(items, padding)[0];
  auto dense_of_zero = b->named_parameters()["dense_bias"].expand({4, 8});
  EXPECT_TRUE(close(out.slice(0, 0, 4), dense_of_zero));
}

TEST(GRU4Rec, IsCausal) { expect_causal(*make_backbone("gru4rec", with(kSmall, {{"layers", 2}}))); }

TEST(GRU4Rec, ReadsEveryParameterThroughFastWeights) {
  expect_fast_weights_honoured(*make_backbone("gru4rec", with(kSmall, {{"bias", true}, {"layers", 2}})));
}

TEST(GRU4Rec, DropoutOnInputsOnlyInTraining) {
  auto b = make_backbone("gru4rec", kSmall);
  expect_dropout_only_in_training(*b);
  auto none = make_backbone("gru4rec", with(kSmall, {{"dropout", 0.0}}));
  none->train();
  auto items = torch::randn({2, 5, 8});
  auto padding = torch::zeros({2, 5}, torch::kBool);
  EXPECT_TRUE(torch::equal(none->forward(items, padding), none->forward(items, padding)));
}

TEST(GRU4Rec, RejectsItemVectorsOfTheWrongSize) {
  auto b = make_backbone("gru4rec", kSmall);
  try {
    b->forward(torch::randn({2, 5, 9}), torch::zeros({2, 5}, torch::kBool));
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[B, L, 8], got [2, 5, 9]"), std::string::npos) << e.what();
  }
}

TEST(GRU4Rec, ForwardLastIsTheLastColumn) {
  expect_forward_last_is_the_last_column(*make_backbone("gru4rec", kSmall));
  expect_forward_last_is_the_last_column(*make_backbone("gru4rec", with(kSmall, {{"bias", true}, {"layers", 2}})));
}

TEST(GRU4Rec, LengthGroupsChangeNeitherLossNorGradients) {
  expect_length_groups_change_nothing("gru4rec", kSmall);
  expect_length_groups_change_nothing("gru4rec", with(kSmall, {{"bias", true}, {"layers", 2}}));
  expect_length_groups_change_nothing("gru4rec", kSmall, engine::LossKind::BinaryCrossEntropy);
}
