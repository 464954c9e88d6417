// length_groups: the exact optimum of the grouping cost (checked by brute force on small batches), and
// encode_in_length_groups: the states and gradients of one call on the whole batch, for an encoder that
// honours the backbone contract (rows independent, left padding ignored).
#include "xrec/engine/length_groups.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <random>

using namespace xrec::engine;

namespace {

int64_t cost(const std::vector<LengthGroup>& groups, int64_t group_cost) {
  int64_t c = 0;
  for (auto& g : groups) c += static_cast<int64_t>(g.rows.size()) * g.width + group_cost;
  return c;
}

// Every way of cutting the sorted lengths into consecutive groups (2^(n-1) of them).
int64_t brute_force(std::vector<int64_t> lengths, int64_t group_cost) {
  std::sort(lengths.begin(), lengths.end());
  const size_t n = lengths.size();
  int64_t best = std::numeric_limits<int64_t>::max();
  for (uint64_t cuts = 0; cuts < (uint64_t{1} << (n - 1)); ++cuts) {
    int64_t c = 0;
    size_t start = 0;
    for (size_t i = 0; i < n; ++i)
      if (i + 1 == n || (cuts >> i) & 1) {
        c += static_cast<int64_t>(i + 1 - start) * std::max<int64_t>(1, lengths[i]) + group_cost;
        start = i + 1;
      }
    best = std::min(best, c);
  }
  return best;
}

// A causal encoder that honours the contract: state t = sum over real s <= t of items[s] * weight[L - s]
// (positions counted from the right, so left padding changes nothing), then tanh.
torch::Tensor toy_encode(const torch::Tensor& items, const torch::Tensor& padding, const torch::Tensor& weight) {
  const int64_t L = items.size(1);
  auto w = weight.slice(0, 0, L).flip(0).unsqueeze(0).unsqueeze(-1);  // [1, L, 1]: position s gets weight[L-1-s]
  auto real = padding.logical_not().unsqueeze(-1).to(items.dtype());
  return torch::tanh(torch::cumsum(items * real * w, 1));
}

}  // namespace

TEST(LengthGroups, EveryRowInExactlyOneGroupWidthItsLongestRow) {
  const std::vector<int64_t> lengths = {5, 1, 50, 2, 2, 0, 49};
  auto groups = length_groups(lengths, 4);
  std::vector<int64_t> seen;
  for (auto& g : groups) {
    int64_t longest = 1;
    for (int64_t r : g.rows) longest = std::max(longest, lengths[static_cast<size_t>(r)]), seen.push_back(r);
    EXPECT_EQ(g.width, longest);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(LengthGroups, HandCheckedCuts) {
  // Cost 0: one group per distinct length (the empty row counts as width 1).
  auto g = length_groups({3, 1, 3, 0}, 0);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].rows, (std::vector<int64_t>{3, 1}));  // by length, then by row
  EXPECT_EQ(g[0].width, 1);
  EXPECT_EQ(g[1].rows, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(g[1].width, 3);
  // A group costs more than the padding it saves: one group. {1, 1, 50} alone: 2 * 49 padding cells saved.
  EXPECT_EQ(length_groups({1, 1, 50}, 100).size(), 1u);
  EXPECT_EQ(length_groups({1, 1, 50}, 97).size(), 2u);
  EXPECT_TRUE(length_groups({}, 10).empty());
}

TEST(LengthGroups, CostIsTheBruteForceOptimum) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> len(0, 50), size(1, 11), gc(0, 120);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int64_t> lengths(static_cast<size_t>(size(rng)));
    for (auto& l : lengths) l = len(rng);
    const int64_t group_cost = gc(rng);
    EXPECT_EQ(cost(length_groups(lengths, group_cost), group_cost), brute_force(lengths, group_cost))
        << "trial " << trial;
  }
}

TEST(LengthGroups, EncodingInGroupsGivesTheStatesAndGradientsOfOneCall) {
  torch::manual_seed(1);
  const int64_t B = 6, L = 9, D = 4;
  const std::vector<int64_t> lengths = {9, 1, 4, 4, 2, 7};
  auto padding = torch::zeros({B, L}, torch::kBool);
  for (int64_t r = 0; r < B; ++r) padding[r].slice(0, 0, L - lengths[static_cast<size_t>(r)]).fill_(true);
  auto items = torch::randn({B, L, D});
  auto weight = torch::randn({12}, torch::requires_grad());

  auto whole = toy_encode(items, padding, weight);
  auto real = padding.logical_not().unsqueeze(-1);
  auto probe = torch::randn({B, L, D});
  (whole * real * probe).sum().backward();
  const auto grad_whole = weight.grad().clone();
  weight.mutable_grad() = torch::Tensor();

  int calls = 0;
  auto grouped = encode_in_length_groups(items, padding, /*group_cost=*/0,
                                         [&](const torch::Tensor& i, const torch::Tensor& p) {
                                           ++calls;
                                           EXPECT_LT(i.size(1), L + 1);
                                           return toy_encode(i, p, weight);
                                         });
  EXPECT_EQ(calls, 5);  // lengths 1, 2, 4, 7, 9
  ASSERT_EQ(grouped.sizes(), whole.sizes());
  EXPECT_TRUE(torch::allclose(grouped.masked_select(real), whole.masked_select(real), 1e-6, 1e-6));
  EXPECT_TRUE(torch::all(grouped.masked_select(real.logical_not()) == 0).item<bool>());  // padding: zeros
  (grouped * real * probe).sum().backward();
  EXPECT_TRUE(torch::allclose(weight.grad(), grad_whole, 1e-5, 1e-6));
}

TEST(LengthGroups, OneGroupAsWideAsTheBatchIsAPlainCall) {
  auto items = torch::randn({3, 4, 2});
  auto padding = torch::zeros({3, 4}, torch::kBool);
  int calls = 0;
  auto out = encode_in_length_groups(items, padding, 1000, [&](const torch::Tensor& i, const torch::Tensor&) {
    ++calls;
    EXPECT_TRUE(i.is_same(items));
    return i * 2;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(torch::equal(out, items * 2));
  EXPECT_THROW(encode_in_length_groups(items, padding.slice(1, 1), 0, [](auto& i, auto&) { return i; }),
               std::exception);
}
