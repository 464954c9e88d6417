#include "xrec/engine/pointwise.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;

namespace {
// Three users (gender, age) and four items (genres, multi-hot; year), ml-100k style.
DomainData fixture() {
  DomainData d;
  d.name = "ml";
  d.num_items = 4;
  d.sequences = {{1, 2}, {2, 3}, {4}};
  d.user_side.categorical = {{"gender", 2, {{1}, {2}, {0}}, {"", "F", "M"}}};
  d.user_side.numeric = {{"age", {24, 53, NAN}}};
  d.item_side.categorical = {{"genres", 3, {{}, {1, 3}, {2}, {}, {1, 2, 3}}, {"", "Action", "Comedy", "Drama"}}};
  d.item_side.numeric = {{"year", {NAN, 1995, 1994, 1977, 1999}}};
  return d;
}

// logit = a * item + b * user: parameters read through FastWeights.
class LinearPointwise : public PointwiseModel {
 public:
  void bind(const PointwiseFields& f) override {
    bound = f;
    a_ = register_parameter("a", torch::ones({1}));
    b_ = register_parameter("b", torch::zeros({1}));
  }
  torch::Tensor logits(const PointwiseBatch& batch, const FastWeights& w) override {
    return w(a_) * batch.items.to(torch::kFloat) + w(b_) * batch.users.to(torch::kFloat);
  }
  PointwiseFields bound;
  torch::Tensor a_, b_;
};
}  // namespace

TEST(Pointwise, FieldsAreTheDomainsSideInformation) {
  DomainData d = fixture();
  PointwiseFields f = pointwise_fields(d);
  EXPECT_EQ(f.num_users, 3);
  EXPECT_EQ(f.num_items, 4);
  ASSERT_EQ(f.user_fields.size(), 1u);
  EXPECT_EQ(f.user_fields[0].name, "gender");
  EXPECT_EQ(f.user_fields[0].vocab, 2);
  ASSERT_EQ(f.item_fields.size(), 1u);
  EXPECT_EQ(f.item_fields[0].vocab, 3);
  EXPECT_EQ(f.user_numeric, std::vector<std::string>{"age"});
  EXPECT_EQ(f.item_numeric, std::vector<std::string>{"year"});
  d.item_side.categorical[0].values.pop_back();
  EXPECT_THROW(pointwise_fields(d), InputError);
}

TEST(Pointwise, BatchCarriesIdsFieldsInBagLayoutNumericsAndLabels) {
  DomainData d = fixture();
  auto b = pointwise_batch(d, {{0, 1, 1.f}, {2, 4, 0.f}, {1, 3, 1.f}});
  EXPECT_TRUE(torch::equal(b.users, torch::tensor({0, 2, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(b.items, torch::tensor({1, 4, 3}, torch::kLong)));
  EXPECT_TRUE(torch::equal(b.labels, torch::tensor({1.f, 0.f, 1.f})));
  ASSERT_EQ(b.user_fields.size(), 1u);
  EXPECT_TRUE(torch::equal(b.user_fields[0].ids, torch::tensor({1, 2}, torch::kLong)));  // user 2's gender missing
  EXPECT_TRUE(torch::equal(b.user_fields[0].offsets, torch::tensor({0, 1, 1, 2}, torch::kLong)));
  EXPECT_TRUE(torch::equal(b.item_fields[0].ids, torch::tensor({1, 3, 1, 2, 3}, torch::kLong)));  // item 3: none
  EXPECT_TRUE(torch::equal(b.item_fields[0].offsets, torch::tensor({0, 2, 5, 5}, torch::kLong)));
  EXPECT_EQ(b.user_numeric.sizes(), (std::vector<int64_t>{3, 1}));
  EXPECT_FLOAT_EQ(b.user_numeric[0][0].item<float>(), 24.f);
  EXPECT_TRUE(std::isnan(b.user_numeric[1][0].item<float>()));  // user 2 has no age
  EXPECT_FLOAT_EQ(b.user_numeric[2][0].item<float>(), 53.f);
  EXPECT_FLOAT_EQ(b.item_numeric[1][0].item<float>(), 1999.f);
  EXPECT_THROW(pointwise_batch(d, {{3, 1, 1.f}}), InputError);  // no user 3
  EXPECT_THROW(pointwise_batch(d, {{0, 5, 1.f}}), InputError);  // no item 5
}

TEST(Pointwise, EvaluationGivesHandComputedAucGaucLogloss) {
  DomainData d = fixture();
  std::vector<UserTask> users(2);
  users[0].user = 0;
  users[0].query = {{1, 1.f}, {2, 0.f}, {3, 0.f}};  // logits 1, 2, 3: the positive is below both negatives
  users[1].user = 1;
  users[1].query = {{4, 1.f}, {1, 0.f}};  // logits 4, 1: ranked right
  users[1].support = {{2, 1.f}};
  LinearPointwise m;
  m.bind(pointwise_fields(d));
  EXPECT_EQ(m.bound.num_items, 4);
  auto r = evaluate_pointwise(m, d, users, UserPart::Query, FastWeights(), /*batch_size=*/2);
  // Probabilities sigmoid(1, 2, 3 | 4, 1). Positives {1, 4} against negatives {2, 3, 1}: the 1 ties one (a half),
  // the 4 wins all three -> 3.5 of 6.
  EXPECT_DOUBLE_EQ(r.at("auc"), 3.5 / 6);
  // gauc: user 0 auc 0 (3 pairs), user 1 auc 1 (2 pairs), weighted by the users' sizes 3 and 2.
  EXPECT_NEAR(r.at("gauc"), (3 * 0.0 + 2 * 1.0) / 5, 1e-12);
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  const double ll = -(std::log(sig(1)) + std::log(1 - sig(2)) + std::log(1 - sig(3)) + std::log(sig(4)) +
                      std::log(1 - sig(1))) / 5;
  EXPECT_NEAR(r.at("logloss"), ll, 1e-6);
  // Under fast weights a = -1 every user's ranking flips. Overall: positives -1, -4 against negatives -2, -3, -1:
  // 2 wins and a tie (one half) for -1, none for -4 -> 2.5 of 6.
  FastWeights w;
  w.set(m.a_, -torch::ones({1}));
  auto f = evaluate_pointwise(m, d, users, UserPart::Query, w);
  EXPECT_DOUBLE_EQ(f.at("auc"), 2.5 / 6);
  EXPECT_NEAR(f.at("gauc"), (3 * 1.0 + 2 * 0.0) / 5, 1e-12);
  EXPECT_THROW(evaluate_pointwise(m, d, {users[0]}, UserPart::Support), InputError);  // no support pairs
  EXPECT_EQ(pointwise_rows(users, UserPart::Support).size(), 1u);
}
