#pragma once
// Quantizer plugins: map item vectors to discrete codes and back to (shared) codebook vectors.
#include <torch/nn/module.h>

#include <vector>

#include "xrec/api/fast_weights.hpp"
#include "xrec/api/item_encoder.hpp"
#include "xrec/api/metrics.hpp"

namespace xrec {

struct Quantized {
  torch::Tensor vectors;  // [N, D] quantized vectors (straight-through to the input where trainable)
  torch::Tensor codes;    // [N, C] code indices
  torch::Tensor loss;     // scalar auxiliary loss (codebook + commitment); zero if none
};

// What a quantizer may initialise itself from: the model's domains (with their item features, e.g. VQ-Rec's
// fixed codes from text vectors) and the item encoder's current output of each domain, [num_items + 1, D]
// with row 0 = padding, detached (k-means codebooks, RQ-VAE warm starts).
struct QuantizerInit {
  std::vector<ItemDomain> domains;
  std::vector<torch::Tensor> item_vectors;  // one per domain, in model order
};

class Quantizer : public torch::nn::Module {
 public:
  virtual Quantized forward(const torch::Tensor& vectors, const FastWeights& w = FastWeights()) = 0;
  // What the host calls: `vectors` are model domain `domain`'s item vectors. Quantizers whose codes depend on
  // the item rather than its vector (pq's fixed codes, VQ-Rec) override this. Default: forward(vectors, w).
  virtual Quantized forward_domain(int64_t domain, const torch::Tensor& vectors, const FastWeights& w) {
    (void)domain;
    return forward(vectors, w);
  }
  // The host calls this once when it builds the model (after the item encoder is bound); a strategy may call
  // it again through SequenceModel::initialize_quantizer (e.g. k-means on vectors after pre-training). Runs
  // under no-grad. Default: nothing (the codebooks keep their construction-time values).
  virtual void initialize(const QuantizerInit& init) { (void)init; }
  // Statistics since the last call (e.g. codebook usage and perplexity), then reset. The host records them
  // once per training epoch as train metrics `quantizer/<key>`; custom loops may call it too. Default: none.
  virtual MetricMap stats() { return {}; }
};

}  // namespace xrec
