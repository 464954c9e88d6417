#pragma once
// A tiny SequenceModel for trainer and meta-gradient tests: item table "items.weight" [n+1, D], a linear
// map "head" [D, D]; the state of a position is head(item vector), scores are dot products with the
// item table. Every parameter is read through FastWeights. backbone() is not available.
#include <torch/torch.h>

#include <stdexcept>

#include "xrec/api/model.hpp"

namespace xrec::testing {

class TinyModel : public SequenceModel {
 public:
  explicit TinyModel(int64_t items, int64_t dim = 4, torch::Dtype dtype = torch::kFloat) : items_(items) {
    torch::manual_seed(7);
    table = register_module("items", torch::nn::Embedding(items + 1, dim));
    head = register_module("head", torch::nn::Linear(dim, dim));
    to(dtype);
  }
  int64_t num_domains() const override { return 1; }
  int64_t num_items(int64_t) const override { return items_; }
  Backbone& backbone() override { throw std::logic_error("TinyModel has no backbone"); }
  torch::Tensor item_vectors(int64_t, const FastWeights& w = FastWeights()) override { return w(table->weight); }
  torch::Tensor encode(int64_t d, const torch::Tensor& inputs, const FastWeights& w = FastWeights()) override {
    auto e = item_vectors(d, w).index_select(0, inputs.reshape({-1})).reshape({inputs.size(0), inputs.size(1), -1});
    return torch::tanh(torch::matmul(e, w(head->weight).t()) + w(head->bias));
  }
  torch::Tensor loss(int64_t d, const Batch& b, const FastWeights& w = FastWeights()) override {
    auto logits = torch::matmul(encode(d, b.inputs, w), item_vectors(d, w).t());
    return torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}), b.targets.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(0));
  }
  torch::Tensor score_next(int64_t d, const torch::Tensor& inputs, const FastWeights& w = FastWeights()) override {
    auto h = encode(d, inputs, w).select(1, inputs.size(1) - 1);
    return torch::matmul(h, item_vectors(d, w).t());
  }

  torch::nn::Embedding table{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  int64_t items_;
};

}  // namespace xrec::testing
