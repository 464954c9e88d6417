#pragma once
// Functional layers shared by the backbone plugins (header-only; each plugin compiles its own copy, hidden).
// A layer holds its registered parameters and reads them through FastWeights on every call, so meta
// learning can run the same module with adapted weights.
#include <torch/nn/module.h>

#include <string>

#include "xrec/api/fast_weights.hpp"

namespace xrec::backbones {

struct Linear {
  torch::Tensor weight, bias;  // bias may be undefined (no bias)
  torch::Tensor operator()(const torch::Tensor& x, const FastWeights& w) const {
    return torch::linear(x, w(weight), bias.defined() ? w(bias) : bias);
  }
};

struct LayerNorm {
  torch::Tensor weight, bias;
  double eps = 1e-12;
  torch::Tensor operator()(const torch::Tensor& x, const FastWeights& w) const {
    return torch::layer_norm(x, {x.size(-1)}, w(weight), w(bias), eps);
  }
};

// Registers `<name>_weight` [out, in] drawn from normal(0, init_std) and `<name>_bias` = 0 on `owner`.
inline Linear make_linear(torch::nn::Module& owner, const std::string& name, int64_t in, int64_t out, double init_std) {
  return {owner.register_parameter(name + "_weight", torch::randn({out, in}) * init_std),
          owner.register_parameter(name + "_bias", torch::zeros({out}))};
}

// Registers `<name>_weight` = 1 and `<name>_bias` = 0 of size [dim] on `owner`.
inline LayerNorm make_layer_norm(torch::nn::Module& owner, const std::string& name, int64_t dim, double eps) {
  return {owner.register_parameter(name + "_weight", torch::ones({dim})),
          owner.register_parameter(name + "_bias", torch::zeros({dim})), eps};
}

}  // namespace xrec::backbones
