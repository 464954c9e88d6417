#pragma once
// Fast weights for meta learning: a model computes with w(param) instead of param, so a strategy can
// run the same module with adapted tensors (phi = theta - lr * grad) and take gradients through them
// (second-order MAML) without cloning modules. Parameters are matched by identity, not by name.
#include <torch/types.h>

#include <unordered_map>
#include <vector>

#include "xrec/api/export.hpp"

namespace torch::nn {
class Module;
}

namespace xrec {

class XREC_API FastWeights {
 public:
  FastWeights() = default;

  // Replaces `param` by `replacement` wherever a module asks for it.
  void set(const torch::Tensor& param, torch::Tensor replacement) {
    map_[param.unsafeGetTensorImpl()] = std::move(replacement);
  }
  // The replacement for `param`, or `param` itself.
  const torch::Tensor& operator()(const torch::Tensor& param) const {
    if (map_.empty()) return param;
    auto it = map_.find(param.unsafeGetTensorImpl());
    return it == map_.end() ? param : it->second;
  }
  bool empty() const { return map_.empty(); }
  size_t size() const { return map_.size(); }

  // Pairs module.parameters() (in order) with `replacements`; sizes must agree.
  static FastWeights from(const torch::nn::Module& module, const std::vector<torch::Tensor>& replacements);

 private:
  std::unordered_map<const void*, torch::Tensor> map_;
};

}  // namespace xrec
