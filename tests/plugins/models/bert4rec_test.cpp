// bert4rec through the real loader: a Cloze backbone (mask probability, learned mask vector), bidirectional
// attention, left-padding invariance, FastWeights and bad parameters.
#include "model_plugin_harness.hpp"

using namespace xrec;
using namespace xrec::test::models;

namespace {
const std::map<std::string, Value> kSmall = {{"hidden", 16}, {"max_len", 10}};
const std::map<std::string, Value> kNoHead = {
    {"hidden", 16}, {"max_len", 10}, {"head", false}};
}  // namespace

TEST(BERT4Rec, IsAClozeBackboneWithALearnedMaskVector) {
  auto b = make_backbone("bert4rec", {{"hidden", 16}, {"mask_prob", 0.35}});
  EXPECT_EQ(b->objective(), Objective::Cloze);
  EXPECT_DOUBLE_EQ(b->mask_prob(), 0.35);
  EXPECT_DOUBLE_EQ(make_backbone("bert4rec")->mask_prob(), 0.2);  // RecBole's mask_ratio
  auto mask = b->mask_vector();
  EXPECT_EQ(mask.sizes(), (std::vector<int64_t>{16}));
  EXPECT_TRUE(mask.requires_grad());
  EXPECT_TRUE(torch::equal(mask, b->named_parameters()["mask_vector"]));
  EXPECT_GT(mask.abs().sum().item<double>(), 0);  // normal(0, init_std), not zeros
  // Read through FastWeights like every other parameter.
  FastWeights w;
  auto substitute = torch::randn({16}, torch::requires_grad());
  w.set(b->named_parameters()["mask_vector"], substitute);
  b->mask_vector(w).sum().backward();
  EXPECT_TRUE(substitute.grad().defined());
  expect_shape(*b);
}

TEST(BERT4Rec, SharesSASRecsEncoderPlusMaskAndHead) {
  auto names = parameter_names(*make_backbone("bert4rec", {{"layers", 1}}));
  auto sasrec = parameter_names(*make_backbone("sasrec", {{"layers", 1}}));
  auto head = sasrec;
  head.insert(head.end(),
              {"mask_vector", "head_dense_weight", "head_dense_bias", "head_norm_weight", "head_norm_bias"});
  EXPECT_EQ(names, head);
  auto plain = sasrec;
  plain.push_back("mask_vector");
  EXPECT_EQ(parameter_names(*make_backbone("bert4rec", {{"layers", 1}, {"head", false}})), plain);
}

TEST(BERT4Rec, LeftPaddingChangesNothing) {
  expect_left_padding_invariant(*make_backbone("bert4rec", kSmall));
  expect_left_padding_invariant(*make_backbone("bert4rec", kNoHead));
}

TEST(BERT4Rec, IsBidirectional) {
  expect_bidirectional(*make_backbone("bert4rec", kSmall));
  expect_bidirectional(*make_backbone("bert4rec", kNoHead));
}

TEST(BERT4Rec, ReadsEveryParameterThroughFastWeights) {
  // The mask vector is not read by forward (the host puts it in the items); its own test covers it.
  expect_fast_weights_honoured(*make_backbone("bert4rec", kSmall), {"mask_vector"});
  expect_fast_weights_honoured(*make_backbone("bert4rec", kNoHead), {"mask_vector"});
}

TEST(BERT4Rec, DropoutOnlyInTraining) { expect_dropout_only_in_training(*make_backbone("bert4rec", kSmall)); }

TEST(BERT4Rec, RejectsBadParameters) { expect_transformer_checks("bert4rec"); }

TEST(BERT4Rec, ForwardLastIsTheLastColumn) {
  expect_forward_last_is_the_last_column(*make_backbone("bert4rec", kSmall));
  expect_forward_last_is_the_last_column(*make_backbone("bert4rec", kNoHead));
}

TEST(BERT4Rec, LengthGroupsChangeNeitherLossNorGradients) {
  expect_length_groups_change_nothing("bert4rec", kSmall);
  expect_length_groups_change_nothing("bert4rec", kNoHead);
  expect_length_groups_change_nothing("bert4rec", kSmall, engine::LossKind::BinaryCrossEntropy);
}
