#include "xrec/api/fast_weights.hpp"

#include <torch/nn/module.h>

#include "xrec/api/errors.hpp"

namespace xrec {

FastWeights FastWeights::from(const torch::nn::Module& module, const std::vector<torch::Tensor>& replacements) {
  auto params = module.parameters();
  if (params.size() != replacements.size())
    throw Error("FastWeights::from: module has " + std::to_string(params.size()) + " parameters, got " +
                std::to_string(replacements.size()) + " replacements");
  FastWeights w;
  for (size_t i = 0; i < params.size(); ++i) w.set(params[i], replacements[i]);
  return w;
}

}  // namespace xrec
