#include "xrec/engine/length_groups.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

std::vector<LengthGroup> length_groups(const std::vector<int64_t>& lengths, int64_t group_cost) {
  const size_t n = lengths.size();
  if (n == 0) return {};
  std::vector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
    return lengths[static_cast<size_t>(a)] < lengths[static_cast<size_t>(b)];
  });
  auto width = [&](size_t i) { return std::max<int64_t>(1, lengths[static_cast<size_t>(rows[i])]); };
  // best[j]: the cheapest grouping of the j shortest rows; cut[j]: where its last group starts. The last
  // group of rows i..j-1 is as wide as row j-1 (the longest of them).
  std::vector<int64_t> best(n + 1, 0);
  std::vector<size_t> cut(n + 1, 0);
  for (size_t j = 1; j <= n; ++j) {
    best[j] = std::numeric_limits<int64_t>::max();
    const int64_t w = width(j - 1);
    for (size_t i = 0; i < j; ++i) {
      if (i > 0 && width(i - 1) == w) continue;  // rows of equal length never need to be split
      const int64_t c = best[i] + static_cast<int64_t>(j - i) * w + group_cost;
      if (c < best[j]) best[j] = c, cut[j] = i;
    }
  }
  std::vector<LengthGroup> groups;
  for (size_t j = n; j > 0; j = cut[j]) {
    LengthGroup g;
    g.rows.assign(rows.begin() + static_cast<std::ptrdiff_t>(cut[j]), rows.begin() + static_cast<std::ptrdiff_t>(j));
    g.width = width(j - 1);
    groups.push_back(std::move(g));
  }
  std::reverse(groups.begin(), groups.end());
  return groups;
}

torch::Tensor encode_in_length_groups(const torch::Tensor& items, const torch::Tensor& padding,
                                      int64_t group_cost, const EncodeFn& encode) {
  if (items.dim() != 3 || padding.dim() != 2 || items.size(0) != padding.size(0) ||
      items.size(1) != padding.size(1))
    throw Error("encode_in_length_groups: expected items [B, L, D] and padding [B, L]");
  const int64_t B = items.size(0), L = items.size(1);
  auto counts = padding.logical_not().sum(1).to(torch::kCPU).contiguous();
  const int64_t* c = counts.data_ptr<int64_t>();
  const auto groups = length_groups(std::vector<int64_t>(c, c + B), group_cost);
  if (groups.size() <= 1 && (groups.empty() || groups.front().width >= L)) return encode(items, padding);

  std::vector<torch::Tensor> parts;
  std::vector<int64_t> order;  // order[k] = batch row of the k-th row of the concatenated groups
  order.reserve(static_cast<size_t>(B));
  for (const auto& g : groups) {
    const int64_t w = std::min(L, g.width);
    auto idx = torch::tensor(g.rows, torch::kLong).to(items.device());
    auto states = encode(items.index_select(0, idx).slice(1, L - w), padding.index_select(0, idx).slice(1, L - w));
    // Left-pad back to L columns (right alignment: the computed columns are the last w).
    parts.push_back(w < L ? torch::constant_pad_nd(states, {0, 0, L - w, 0}) : states);
    order.insert(order.end(), g.rows.begin(), g.rows.end());
  }
  std::vector<int64_t> inverse(static_cast<size_t>(B));
  for (size_t k = 0; k < order.size(); ++k) inverse[static_cast<size_t>(order[k])] = static_cast<int64_t>(k);
  return torch::cat(parts).index_select(0, torch::tensor(inverse, torch::kLong).to(items.device()));
}

}  // namespace xrec::engine
