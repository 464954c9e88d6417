#include "xrec/engine/item_encoders.hpp"

#include <torch/torch.h>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

IdItemEncoder::IdItemEncoder(double init_std) : init_std_(init_std) {
  if (!(init_std >= 0)) throw InputError("item_encoder id: init_std must be >= 0, got " + std::to_string(init_std));
}

void IdItemEncoder::bind(const std::vector<ItemDomain>& domains, int64_t dim) {
  if (!tables_.empty()) throw Error("item encoder id: bound twice");
  for (size_t d = 0; d < domains.size(); ++d) {
    // randn * std (not normal_(0, std)): the exact draws the host's tables always had, so seeds keep their numbers.
    auto table = torch::randn({domains[d].num_items + 1, dim}) * init_std_;
    table[0].zero_();  // padding row
    tables_.push_back(register_parameter("items_" + std::to_string(d), table));
  }
}

torch::Tensor IdItemEncoder::forward(int64_t domain, const FastWeights& w) {
  if (domain < 0 || domain >= static_cast<int64_t>(tables_.size()))
    throw Error("item encoder id: no domain " + std::to_string(domain) + " (bound to " +
                std::to_string(tables_.size()) + ")");
  return w(tables_[static_cast<size_t>(domain)]);
}

}  // namespace xrec::engine
