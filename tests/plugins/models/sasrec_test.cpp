// sasrec through the real loader: shapes, left-padding invariance, causality, FastWeights, parameter names
// (kept by the refactor onto plugins/backbones/common/transformer.hpp) and bad parameters.
#include "model_plugin_harness.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {
const std::map<std::string, Value> kSmall = {{"hidden", 16}, {"max_len", 10}};
const std::map<std::string, Value> kSmallPre = {{"hidden", 16},
                                                {"max_len", 10},
                                                {"norm", "pre"},
                                                {"scale_input", true},
                                                {"activation", "relu"}};
}  // namespace

TEST(SASRec, IsANextItemBackbone) {
  auto b = make_backbone("sasrec", kSmall);
  EXPECT_EQ(b->hidden_size(), 16);
  EXPECT_EQ(b->max_len(), 10);
  expect_next_item_backbone(*b);
  expect_shape(*b);
}

TEST(SASRec, KeepsItsParameterNames) {
  const std::vector<std::string> block = {
      "layer0_q_weight",   "layer0_q_bias",   "layer0_k_weight",       "layer0_k_bias",       "layer0_v_weight",
      "layer0_v_bias",     "layer0_out_weight", "layer0_out_bias",     "layer0_ff1_weight",   "layer0_ff1_bias",
      "layer0_ff2_weight", "layer0_ff2_bias", "layer0_ln_attn_weight", "layer0_ln_attn_bias", "layer0_ln_ff_weight",
      "layer0_ln_ff_bias"};
  std::vector<std::string> post = {"positions", "input_norm_weight", "input_norm_bias"};
  post.insert(post.end(), block.begin(), block.end());
  EXPECT_EQ(parameter_names(*make_backbone("sasrec", {{"layers", 1}})), post);
  auto pre = post;
  pre.insert(pre.end(), {"final_norm_weight", "final_norm_bias"});
  EXPECT_EQ(parameter_names(*make_backbone("sasrec", {{"layers", 1}, {"norm", "pre"}})),
            pre);
  // Shapes: inner = 4 * hidden by default; positions [max_len, hidden].
  auto b = make_backbone("sasrec", kSmall);
  EXPECT_EQ(b->named_parameters()["positions"].sizes(), (std::vector<int64_t>{10, 16}));
  EXPECT_EQ(b->named_parameters()["layer1_ff1_weight"].sizes(), (std::vector<int64_t>{64, 16}));
}

TEST(SASRec, LeftPaddingChangesNothing) {
  expect_left_padding_invariant(*make_backbone("sasrec", kSmall));
  expect_left_padding_invariant(*make_backbone("sasrec", kSmallPre));
}

TEST(SASRec, IsCausal) {
  expect_causal(*make_backbone("sasrec", kSmall));
  expect_causal(*make_backbone("sasrec", kSmallPre));
}

TEST(SASRec, ReadsEveryParameterThroughFastWeights) {
  expect_fast_weights_honoured(*make_backbone("sasrec", kSmall));
  // Pre-LN never reads the input LayerNorm (registered in both layouts so they share one parameter list).
  expect_fast_weights_honoured(*make_backbone("sasrec", kSmallPre), {"input_norm_weight", "input_norm_bias"});
}

TEST(SASRec, DropoutOnlyInTraining) { expect_dropout_only_in_training(*make_backbone("sasrec", kSmall)); }

TEST(SASRec, RejectsBadParameters) { expect_transformer_checks("sasrec"); }

TEST(SASRec, ForwardLastIsTheLastColumn) {
  expect_forward_last_is_the_last_column(*make_backbone("sasrec", kSmall));
  expect_forward_last_is_the_last_column(*make_backbone("sasrec", kSmallPre));
}

TEST(SASRec, LengthGroupsChangeNeitherLossNorGradients) {
  expect_length_groups_change_nothing("sasrec", kSmall);
  expect_length_groups_change_nothing("sasrec", kSmallPre);
  expect_length_groups_change_nothing("sasrec", kSmall, engine::LossKind::BinaryCrossEntropy);
}
