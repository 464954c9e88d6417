#pragma once
// The host's built-in item encoders.
#include <vector>

#include "xrec/api/item_encoder.hpp"

namespace xrec::engine {

// `id`: one free vector per item and domain (parameters items_0, items_1, ...: domain d's table
// [num_items + 1, D], drawn normal(0, init_std) in domain order, padding row zeroed). init_std defaults to
// the backbone's own `init_std` when it has one, else 0.02 (the value the tables always had).
class IdItemEncoder : public ItemEncoder {
 public:
  explicit IdItemEncoder(double init_std = 0.02);
  void bind(const std::vector<ItemDomain>& domains, int64_t dim) override;
  torch::Tensor forward(int64_t domain, const FastWeights& w = FastWeights()) override;

 private:
  double init_std_;
  std::vector<torch::Tensor> tables_;
};

}  // namespace xrec::engine
