#pragma once
// Item encoder plugins (kind `item_encoder`): turn a domain's items into the vectors the backbone reads and
// scoring compares against, [num_items + 1, D] with row 0 = padding. The host's built-in `id` encoder is one
// free vector per item (a table per domain); others may compute vectors from the domain's item features
// (DomainData::item_features / item_side: text embeddings, attributes), e.g. ANT's modality encoder.
#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "xrec/api/data.hpp"
#include "xrec/api/fast_weights.hpp"

namespace xrec {

// One domain of a model, as the host binds it to an item encoder (model domain index = position).
struct ItemDomain {
  std::string name;
  int64_t num_items = 0;              // ids 1..num_items, 0 = padding
  const DomainData* data = nullptr;   // the domain's data and features; may be null (tests, bare models)
  // The domain's training sequences after the split (Task::train), so fitted state (e.g. pq's fixed codes) sees
  // only items seen in training; null when the host has no split (tests, bare models).
  const std::vector<std::vector<int64_t>>* train = nullptr;
};

class ItemEncoder : public torch::nn::Module {
 public:
  // Called once by the host when it builds the model, before any other call: create the parameters for these
  // domains (each may have its own item count and features) with output width `dim` (the backbone's
  // hidden size). The order of random draws here is part of the seed's contract.
  virtual void bind(const std::vector<ItemDomain>& domains, int64_t dim) = 0;
  // [num_items + 1, dim] vectors of model domain `domain`, row 0 all zeros (padding). Every parameter is read
  // through w(param), so meta-learning strategies can swap in fast weights.
  virtual torch::Tensor forward(int64_t domain, const FastWeights& w = FastWeights()) = 0;
  // An optional term the host adds to the training loss of a batch of model domain `domain` (already
  // weighted by the encoder's own coefficient), e.g. a cross-modal contrastive loss over the batch's items.
  // `items`: the item ids the batch predicts ([P] long, no padding). Undefined (the default) = none. The
  // host adds it while the stage's `aux_loss` is on (the default). Every parameter read through w.
  virtual torch::Tensor auxiliary_loss(int64_t domain, const torch::Tensor& items,
                                       const FastWeights& w = FastWeights()) {
    (void)domain, (void)items, (void)w;
    return {};
  }
};

}  // namespace xrec
