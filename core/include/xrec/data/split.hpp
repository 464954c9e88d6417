#pragma once
// From a domain's sequences to a Task: the evaluation protocol's split, and the fixed negatives of the
// sampled protocol. Torch-free; all randomness comes from the given seed.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/task.hpp"

namespace xrec::engine {

struct SplitOptions {
  int64_t min_length = 3;  // leave_one_out: shorter users are training-only
  std::string method = "leave_one_out";  // leave_one_out | ratio | time | given (split_domain)
  std::vector<double> ratios = {0.8, 0.1, 0.1};  // ratio: train, valid, test shares of each user
  int64_t valid_time = 0;  // time: interactions at or after it (and before test_time) are validation cases
  int64_t test_time = 0;   // time: interactions at or after it are test cases
};

// Leave-one-out by time: for a user with items s[0..n-1] (n >= min_length), training sequence s[0..n-3],
// validation predicts s[n-2] from s[0..n-3], test predicts s[n-1] from s[0..n-2]. Users with
// 2 <= n < min_length keep their whole sequence for training; single-item users are dropped.
Task leave_one_out(const DomainData& data, const std::string& role, const SplitOptions& options);

// Per-user ratio split by time (RecBole's `RS: [0.8, 0.1, 0.1]` ordered by time, grouped by user): the first
// part of each user's sequence is training, every later interaction is an EvalCase predicting it from the
// user's whole preceding history, valid part first, then test part. Ratios are normalised to sum 1; part
// sizes as RecBole computes them: floor(ratio * n) for valid and test, the rest training, then test and
// valid shares that floor to zero but are > 0 take one interaction each from training while it has more
// than one.
Task ratio_split(const DomainData& data, const std::string& role, const std::vector<double>& ratios);

// Global time split: interactions before valid_time train, those in [valid_time, test_time) are validation
// cases and those at or after test_time test cases, each predicted from the user's whole preceding
// history. An interaction with no history before it cannot be a case; it is only history. Throws
// xrec::InputError without timestamps, or when valid_time > test_time.
Task time_split(const DomainData& data, const std::string& role, int64_t valid_time, int64_t test_time);

// The split the dataset ships with (DomainData::given_split). Throws xrec::InputError when it has none.
Task given_split(const DomainData& data, const std::string& role);

// Dispatches on options.method; throws xrec::InputError when the split leaves nothing to validate or test.
Task split_domain(const DomainData& data, const std::string& role, const SplitOptions& options);

// Keeps a seeded random part of the training sequences (one per training user): `count` of them when
// count > 0, else round(fraction * n) (at least one). The other users' training sequences are dropped;
// their validation and test cases stay. Throws xrec::InputError when count exceeds the training users.
void keep_training_users(Task& task, double fraction, int64_t count, uint64_t seed);

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
