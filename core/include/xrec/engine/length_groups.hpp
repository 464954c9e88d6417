#pragma once
// Encoding a right-aligned batch in groups of rows of similar length. A training batch is as wide as its
// longest row, and with random batches that is nearly always max_len: on Beauty 88% of the cells are padding.
// A backbone's rows are independent and left padding does not change a row's states (the contract that
// already lets batches be narrowed to their longest row), so each group can be run narrowed to its own
// longest row and the states put back in place: same states, hence the same loss and gradients, for the
// cost of the real cells plus a little per group.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace xrec::engine {

struct LengthGroup {
  std::vector<int64_t> rows;  // row indices into the batch, by increasing length
  int64_t width = 1;          // the longest row of the group (at least 1)
};

// Cuts the rows (lengths[i] = real items of row i) into groups minimising
//   sum over groups of (rows * width) + group_cost * groups,
// exactly, by dynamic programming over the rows sorted by length. group_cost is the fixed cost of one more
// backbone call, in cells (row positions); 0 gives one group per distinct length.
std::vector<LengthGroup> length_groups(const std::vector<int64_t>& lengths, int64_t group_cost);

// encode(items [n, w, D], padding [n, w]) -> states [n, w, D'].
using EncodeFn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

// States [B, L, D'] of items [B, L, D] with padding [B, L] (true = no item), computed group by group; the
// columns a group did not compute (padding) are zero. One group as wide as the batch is a plain call.
torch::Tensor encode_in_length_groups(const torch::Tensor& items, const torch::Tensor& padding,
                                      int64_t group_cost, const EncodeFn& encode);

}  // namespace xrec::engine
