#pragma once
// Pointwise model plugins (kind `pointwise_model`): CTR-style models over user and item feature fields plus
// ids (MeLU, MPP's predictor). They output one logit per (user, item) pair; the host's pointwise evaluation
// turns them into probabilities and records auc, gauc (per user) and logloss.
#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "xrec/api/data.hpp"
#include "xrec/api/fast_weights.hpp"

namespace xrec {

// One categorical field (a column of SideInfo::categorical) as the model is built for it.
struct FieldInfo {
  std::string name;   // "gender", "occupation", "genres", "brand"
  int64_t vocab = 0;  // ids 1..vocab, 0 = missing
};

// What a pointwise model is built for: one domain's users and items and their side fields, in the order
// the batches carry them (SideInfo order). Numeric fields (age, year, price) come as dense columns.
struct PointwiseFields {
  int64_t num_users = 0;                  // user indices 0..num_users-1
  int64_t num_items = 0;                  // item ids 1..num_items
  std::vector<FieldInfo> user_fields, item_fields;
  std::vector<std::string> user_numeric, item_numeric;  // names of the dense columns, in order
  const DomainData* data = nullptr;       // the domain (for models that read item_features vectors)
};

// The values of one categorical field for a batch, in EmbeddingBag layout: row b's ids (1..vocab, one for a
// single-valued field like gender, several for a multi-hot one like genres, none when missing) are
// ids[offsets[b] .. offsets[b + 1]). ids: [N] long, offsets: [B + 1] long.
struct FieldBatch {
  torch::Tensor ids, offsets;
};

// A batch of (user, item) pairs with their features and labels.
struct PointwiseBatch {
  torch::Tensor users;                                 // [B] long, user index
  torch::Tensor items;                                 // [B] long, item id
  std::vector<FieldBatch> user_fields, item_fields;    // parallel to PointwiseFields::{user,item}_fields
  torch::Tensor user_numeric, item_numeric;            // [B, Nu], [B, Ni] float, NaN = missing; may be [B, 0]
  torch::Tensor labels;                                // [B] float in {0, 1}
};

class PointwiseModel : public torch::nn::Module {
 public:
  // Called once by the host before any other call: create the parameters for these fields.
  virtual void bind(const PointwiseFields& fields) = 0;
  // [B] logits (probability = sigmoid(logit)). Every parameter is read through w(param), so meta-learning
  // strategies (MAML-style local updates on a user's support set) can swap in fast weights.
  virtual torch::Tensor logits(const PointwiseBatch& batch, const FastWeights& w = FastWeights()) = 0;
};

}  // namespace xrec
