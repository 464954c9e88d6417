#pragma once
// Pointwise (CTR-style) data for PointwiseModel plugins and their evaluation: the fields of a domain, batches
// of labelled (user, item) pairs with the users' and items' side features, and auc / gauc / logloss.
#include <torch/types.h>

#include <vector>

#include "xrec/api/metrics.hpp"
#include "xrec/api/pointwise_model.hpp"
#include "xrec/api/task.hpp"

namespace xrec::engine {

// The domain's users, items and side fields as a pointwise model is bound to them: every categorical field
// of item_side / user_side (in their order) and every numeric one as a dense column.
PointwiseFields pointwise_fields(const DomainData& data);

struct PointwiseRow {
  int64_t user = 0;
  int64_t item = 0;
  float label = 0;
};

// The support or query pairs of these users, user by user.
std::vector<PointwiseRow> pointwise_rows(const std::vector<UserTask>& users, UserPart part);
std::vector<PointwiseRow> pointwise_rows(const std::vector<const UserTask*>& users, UserPart part);

// The rows with their features (on the CPU). Throws InputError for a user or item out of range, naming it.
PointwiseBatch pointwise_batch(const DomainData& data, const std::vector<PointwiseRow>& rows);
// The same batch moved to `device`.
PointwiseBatch to_device(PointwiseBatch batch, torch::Device device);

// sigmoid(logits) of every row, in row order, in batches of batch_size, under no-grad.
std::vector<float> pointwise_probabilities(PointwiseModel& model, const DomainData& data,
                                           const std::vector<PointwiseRow>& rows, const FastWeights& w,
                                           int64_t batch_size = 4096, torch::Device device = torch::kCPU);

// auc, gauc (grouped by user) and logloss of the model on the users' support or query pairs.
MetricMap evaluate_pointwise(PointwiseModel& model, const DomainData& data, const std::vector<UserTask>& users,
                             UserPart part, const FastWeights& w = FastWeights(), int64_t batch_size = 4096,
                             torch::Device device = torch::kCPU);

}  // namespace xrec::engine
