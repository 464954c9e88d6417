#pragma once
// The trainer's data-parallel hooks (core/src/engine/trainer.cpp calls them when distributed::active()).
// Every rank draws the same batches (same seed); each takes its share of the rows, scales its loss so that
// the gradients summed over ranks are those of the combined batch, and all-reduces them after backward.
#include <vector>

#include "xrec/api/model.hpp"

namespace xrec::distributed {

// Rows [rank * B / N, (rank + 1) * B / N) of the batch.
Batch shard_batch(const Batch& batch);
// loss * (target positions of this shard) / (target positions of all shards, all-reduced): the loss is a
// mean over target positions, so the sum over ranks is the combined batch's loss, whatever the padding.
torch::Tensor weight_loss(const torch::Tensor& loss, const Batch& shard);
// Sums the gradients of `params` over the ranks (one flat all-reduce; a missing gradient counts as 0).
void allreduce_gradients(const std::vector<torch::Tensor>& params);
// The sum of `t` over the ranks (a copy).
torch::Tensor allreduce_sum(const torch::Tensor& t);

}  // namespace xrec::distributed
