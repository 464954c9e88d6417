#pragma once
// The sequential model the host assembles for a transfer strategy: an item encoder bound to the model's
// domains (the `id` encoder: each domain keeps its own item table), an optional shared quantizer, one shared
// backbone, dot-product scoring. Strategies train it through TransferContext or drive it directly (meta learning).
#include <torch/nn/module.h>

#include "xrec/api/backbone.hpp"

namespace xrec {

// One training batch of a domain. Sequences are right-aligned (padding on the left).
struct Batch {
  torch::Tensor inputs;     // [B, L] item ids, 0 = padding
  torch::Tensor targets;    // [B, L] item to predict at each position, 0 = no loss there
  torch::Tensor negatives;  // [B, L, N] sampled negatives (BCE loss); undefined for full softmax
};

class SequenceModel : public torch::nn::Module {
 public:
  virtual int64_t num_domains() const = 0;
  virtual int64_t num_items(int64_t domain) const = 0;
  virtual Backbone& backbone() = 0;

  // [num_items + 1, D] vectors used both as backbone inputs and as output item vectors.
  virtual torch::Tensor item_vectors(int64_t domain, const FastWeights& w = FastWeights()) = 0;
  // [B, L, D] backbone states for [B, L] item ids.
  virtual torch::Tensor encode(int64_t domain, const torch::Tensor& inputs,
                               const FastWeights& w = FastWeights()) = 0;
  // Scalar training loss of one batch (the configured loss plus any auxiliary loss).
  virtual torch::Tensor loss(int64_t domain, const Batch& batch, const FastWeights& w = FastWeights()) = 0;
  // [B, num_items + 1] scores of every item after the last position of each input row, under fast weights
  // `w` when given (an adapted model is scored without copying its weights in place).
  virtual torch::Tensor score_next(int64_t domain, const torch::Tensor& inputs,
                                   const FastWeights& w = FastWeights()) = 0;
  // Calls the quantizer's initialize() with the item encoder's current vectors of every domain (the host
  // does so once when it builds the model; call again e.g. for k-means after pre-training). No-op without one.
  virtual void initialize_quantizer() {}
};

}  // namespace xrec
