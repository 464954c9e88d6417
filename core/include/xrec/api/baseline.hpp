#pragma once
// Baseline plugins: complete recommenders without a neural backbone (popularity, item-KNN, Markov
// chains). Fitted on a task's training sequences and scored by the same evaluator as neural models.
#include <torch/types.h>

#include "xrec/api/task.hpp"

namespace xrec {

class Baseline {
 public:
  virtual ~Baseline() = default;
  virtual void fit(const Task& task) = 0;
  // Scores all items for each history: [B, num_items + 1] (column 0 = padding, ignored).
  virtual torch::Tensor score(const std::vector<const std::vector<int64_t>*>& histories) = 0;
};

}  // namespace xrec
