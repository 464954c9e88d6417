#pragma once
// Backbone plugins: sequence encoders from item vectors to per-position states. Item vectors come from
// upstream (id embeddings, side-feature encoders, quantizers), so any backbone works with any of them.
#include <torch/nn/module.h>

#include "xrec/api/errors.hpp"
#include "xrec/api/fast_weights.hpp"

namespace xrec {

// How a backbone is trained: next-item prediction at every position (SASRec, GRU4Rec) or
// masked-item prediction (BERT4Rec).
enum class Objective { NextItem, Cloze };

class Backbone : public torch::nn::Module {
 public:
  virtual int64_t hidden_size() const = 0;
  virtual int64_t max_len() const = 0;
  virtual Objective objective() const { return Objective::NextItem; }

  // items: [B, L, D] item vectors, sequences right-aligned (padding on the left);
  // padding: [B, L] bool, true where there is no item. Returns [B, L, D] states; the state at
  // position t summarises items 0..t (causal backbones) or the whole sequence (bidirectional).
  // Every parameter is read through w(param) so meta-learning strategies can swap in fast weights.
  virtual torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding,
                                const FastWeights& w = FastWeights()) = 0;

  // The state at the last (newest) position only, [B, D]: all that next-item scoring reads (for a Cloze
  // backbone the host puts the masked position there). The default runs forward and keeps the last column;
  // a backbone may override it to skip work the other positions would need (sasrec computes its last block
  // for one query). Must equal forward(items, padding, w).select(1, L - 1).
  virtual torch::Tensor forward_last(const torch::Tensor& items, const torch::Tensor& padding,
                                     const FastWeights& w = FastWeights()) {
    return forward(items, padding, w).select(1, items.size(1) - 1);
  }

  // Cloze backbones only. The host masks this share of the (non-padding) input positions in training and
  // predicts the masked items; at inference it appends one masked position after the history and ranks
  // items by the state there. The mask vector [D] is a parameter of the backbone, read through w.
  virtual double mask_prob() const { return 0.0; }
  virtual torch::Tensor mask_vector(const FastWeights& w = FastWeights()) {
    (void)w;
    throw Error("this backbone has no mask vector (only Cloze backbones have one)");
  }
};

}  // namespace xrec
