#pragma once
// Helpers the quantizer plugins share (vq, rvq, pq): the item rows to initialise from, squared distances to
// codewords, sampling of seed rows, Lloyd's k-means, and codebook usage / perplexity of an assignment. Included by the plugins' .cpp files only.
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "xrec/api/errors.hpp"

namespace xrec::quantizers {

// Every domain's item vectors without their padding row 0, stacked [N, D] as float. InputError naming the
// quantizer when no domain has an item.
inline torch::Tensor item_rows(const std::vector<torch::Tensor>& item_vectors, const std::string& quantizer) {
  std::vector<torch::Tensor> rows;
  for (const auto& v : item_vectors)
    if (v.size(0) > 1) rows.push_back(v.slice(0, 1));
  if (rows.empty())
    throw InputError("quantizer " + quantizer + ": the model's domains have no items to initialise from");
  return torch::cat(rows).to(torch::kFloat);
}

// Squared distances [N, K] between rows of x [N, D] and codewords [K, D].
inline torch::Tensor distances(const torch::Tensor& x, const torch::Tensor& codebook) {
  return x.pow(2).sum(1, true) - 2 * torch::matmul(x, codebook.t()) + codebook.pow(2).sum(1).unsqueeze(0);
}

// n distinct rows of x (with repetition only when x has fewer rows), plus tiny noise so equal rows differ.
inline torch::Tensor sample_rows(const torch::Tensor& x, int64_t n) {
  const torch::Tensor idx = x.size(0) >= n ? torch::randperm(x.size(0), torch::kLong).slice(0, 0, n)
                                           : torch::randint(x.size(0), {n}, torch::kLong);
  const torch::Tensor rows = x.index_select(0, idx.to(x.device()));
  return rows + 1e-4 * (rows.std().item<double>() + 1e-8) * torch::randn_like(rows);
}

// k-means++ seeding: the first center a random row, each next one a row drawn with probability proportional to
// its squared distance to the nearest chosen center (uniform once every row coincides with a center). Random
// seeds can leave two centers in one cluster for good; these rarely do.
inline torch::Tensor kmeans_pp_seeds(const torch::Tensor& x, int64_t k) {
  const int64_t n = x.size(0);
  auto pick = [&] { return torch::randint(n, {1}, torch::kLong).item<int64_t>(); };
  std::vector<int64_t> chosen{pick()};
  torch::Tensor d2 = distances(x, x[chosen[0]].unsqueeze(0)).squeeze(1).clamp_min(0);
  for (int64_t c = 1; c < k; ++c) {
    const int64_t next = d2.sum().item<double>() > 0 ? torch::multinomial(d2, 1).item<int64_t>() : pick();
    chosen.push_back(next);
    d2 = torch::minimum(d2, distances(x, x[next].unsqueeze(0)).squeeze(1).clamp_min(0));
  }
  const torch::Tensor rows = x.index_select(0, torch::tensor(chosen, torch::kLong).to(x.device()));
  return rows + 1e-4 * (rows.std().item<double>() + 1e-8) * torch::randn_like(rows);  // equal rows differ
}

// Lloyd's k-means from k-means++ seeds; an emptied cluster takes a random row.
inline torch::Tensor kmeans(const torch::Tensor& x, int64_t k, int64_t iterations) {
  torch::Tensor centers = kmeans_pp_seeds(x, k);
  for (int64_t it = 0; it < iterations; ++it) {
    const torch::Tensor assign = distances(x, centers).argmin(1);
    const torch::Tensor onehot = torch::one_hot(assign, k).to(x.dtype());
    const torch::Tensor counts = onehot.sum(0);
    const torch::Tensor sums = torch::matmul(onehot.t(), x);
    centers = torch::where(counts.eq(0).unsqueeze(1), sample_rows(x, k), sums / counts.clamp_min(1).unsqueeze(1));
  }
  return centers;
}

// Usage (share of the k codes chosen at least once) and perplexity (exp of the entropy of the code
// frequencies: k when uniform, 1 when every row has the same code) of `codes` (any shape, values 0..k-1).
inline std::pair<double, double> usage_and_perplexity(const torch::Tensor& codes, int64_t k) {
  const torch::Tensor counts = torch::bincount(codes.flatten().cpu(), {}, k);
  const double n = counts.sum().item<double>();
  if (n == 0) return {0.0, 0.0};
  const torch::Tensor p = counts.to(torch::kDouble) / n;
  const double entropy = -(p * torch::log(p.clamp_min(1e-12))).sum().item<double>();
  return {(counts > 0).sum().item<double>() / static_cast<double>(k), std::exp(entropy)};
}

}  // namespace xrec::quantizers
