#pragma once
// Training batches, right-aligned with padding 0 on the left. A batch is only as wide as its longest row
// (at most max_len): right alignment keeps every item's position the same.
//  - sequence samples (default; SASRec, S3-Rec): one sample per training sequence s, input s[0..n-2] and
//    targets s[1..n-1] (next item at every position), the last max_len of them;
//  - prefix samples (RecBole's data augmentation): one sample per item s[t], t >= 1, input the max_len
//    items before it and a target at the last position only. Every transition of a long sequence is
//    trained on, with its full context, at max_len times the cost of the sequence samples;
//  - window samples: long sequences cut into windows of max_len that overlap by half; each transition is
//    a target exactly once, with at least max_len / 2 items of context (all of it near the start).
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "xrec/api/model.hpp"
#include "xrec/api/task.hpp"

namespace xrec::engine {

struct BatchOptions {
  int64_t max_len = 50;
  int64_t batch_size = 256;
  int64_t negatives = 0;  // sampled negatives per position (bce loss); 0 = none
  enum class Samples { Sequence, Prefix, Window } samples = Samples::Sequence;
};

class TrainBatches {
 public:
  TrainBatches(const Task& task, const BatchOptions& options, uint64_t seed);

  int64_t num_samples() const { return static_cast<int64_t>(samples_.size()); }
  int64_t num_batches() const;
  // A new random order of the samples (call once per epoch).
  void shuffle();
  // Batch b of the current order.
  Batch get(int64_t b);
  // `size` samples drawn at random (with replacement), for meta-learning loops.
  Batch sample(int64_t size);
  // The batch of the given samples (indices 0..num_samples()-1), built as get() builds its batches: for
  // callers with their own order of the samples.
  Batch batch_of(const std::vector<int64_t>& samples) { return make(samples); }
  // Input items of sample i (its row length before the batch is narrowed), at most max_len.
  int64_t sample_length(int64_t i) const;
  // The random stream and the current order as text, and back: what the stage cache and resume restore so
  // that a stage loaded instead of trained leaves the batches where training would have left them.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  struct Sample {
    int64_t row;      // index into rows_
    int64_t end;      // position of the last target in the sequence
    int64_t trained;  // targets kept, counted back from `end`; 0 = every position of the row
  };
  Batch make(const std::vector<int64_t>& samples);

  const Task& task_;
  BatchOptions o_;
  std::mt19937_64 rng_;
  std::vector<int64_t> rows_;                 // indices into task_.train with at least 2 items
  std::vector<std::vector<int64_t>> seen_;    // sorted items of each training sequence (negative sampling)
  std::vector<Sample> samples_;
  std::vector<int64_t> order_;
};

// A stable identity of a task: role, name and a fingerprint (FNV-1a) of its training sequences. Two tasks
// with the same identity train on the same data.
std::string task_identity(const Task& task);

// The seed of a task's batch stream, from the run seed and the task's role and name only (never from the
// order tasks are first used). The target keeps the stream it had before streams were derived this way
// (seed * 7919 + 1); any other task gets seed * 7919 + 1 + FNV-1a(role + "/" + name).
uint64_t batch_seed(uint64_t run_seed, const Task& task);

// [rows, L] int64 tensor of the last L items of each history, right-aligned, 0 = padding, where
// L = min(max_len, longest history).
torch::Tensor pack_histories(const std::vector<const std::vector<int64_t>*>& histories, int64_t max_len);

}  // namespace xrec::engine
