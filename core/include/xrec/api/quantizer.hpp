#pragma once
// Quantizer plugins: map item vectors to discrete codes and back to (shared) codebook vectors.
#include <torch/nn/module.h>

#include "xrec/api/fast_weights.hpp"

namespace xrec {

struct Quantized {
  torch::Tensor vectors;  // [N, D] quantized vectors (straight-through to the input where trainable)
  torch::Tensor codes;    // [N, C] code indices
  torch::Tensor loss;     // scalar auxiliary loss (codebook + commitment); zero if none
};

class Quantizer : public torch::nn::Module {
 public:
  virtual Quantized forward(const torch::Tensor& vectors, const FastWeights& w = FastWeights()) = 0;
};

}  // namespace xrec
