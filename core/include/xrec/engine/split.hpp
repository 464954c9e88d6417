#pragma once
// From a domain's sequences to a Task: the evaluation protocol's split, and the fixed negatives of the
// sampled protocol. Torch-free; all randomness comes from the given seed.
#include <cstdint>
#include <string>

#include "xrec/api/task.hpp"

namespace xrec::engine {

struct SplitOptions {
  int64_t min_length = 3;  // shorter users are training-only
};

// Leave-one-out by time: for a user with items s[0..n-1] (n >= min_length), training sequence s[0..n-3],
// validation predicts s[n-2] from s[0..n-3], test predicts s[n-1] from s[0..n-2]. Users with
// 2 <= n < min_length keep their whole sequence for training; single-item users are dropped.
Task leave_one_out(const DomainData& data, const std::string& role, const SplitOptions& options);

struct NegativeOptions {
  std::string sampler = "uniform";  // uniform | popularity | file
  int64_t count = 99;
  uint64_t seed = 0;
};

// Fills EvalCase::negatives of every valid and test case: items the user never interacted with, drawn
// uniformly or by training popularity, or read from the dataset's fixed negatives ("file").
// The same seed gives the same negatives.
void attach_negatives(Task& task, const NegativeOptions& options);

}  // namespace xrec::engine
