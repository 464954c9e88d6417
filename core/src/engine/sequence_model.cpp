#include "xrec/engine/sequence_model.hpp"

#include <torch/torch.h>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

LossKind parse_loss(const std::string& name) {
  if (name == "ce") return LossKind::CrossEntropy;
  if (name == "bce") return LossKind::BinaryCrossEntropy;
  throw InputError("unknown loss '" + name + "' (expected ce or bce)");
}

HostSequenceModel::HostSequenceModel(std::vector<int64_t> num_items, std::shared_ptr<Backbone> backbone,
                                     std::shared_ptr<Quantizer> quantizer, LossKind loss, double init_std)
    : num_items_(std::move(num_items)), backbone_(std::move(backbone)), quantizer_(std::move(quantizer)), loss_(loss) {
  if (!backbone_) throw Error("HostSequenceModel needs a backbone");
  const int64_t dim = backbone_->hidden_size();
  for (size_t d = 0; d < num_items_.size(); ++d) {
    auto table = torch::randn({num_items_[d] + 1, dim}) * init_std;
    table[0].zero_();  // padding row
    tables_.push_back(register_parameter("items_" + std::to_string(d), table));
  }
  register_module("backbone", backbone_);
  if (quantizer_) register_module("quantizer", quantizer_);
}

std::pair<torch::Tensor, torch::Tensor> HostSequenceModel::items_and_aux(int64_t domain, const FastWeights& w) {
  const auto& table = w(tables_.at(static_cast<size_t>(domain)));
  if (!quantizer_) return {table, torch::Tensor()};
  Quantized q = quantizer_->forward(table, w);
  return {q.vectors, q.loss};
}

torch::Tensor HostSequenceModel::item_vectors(int64_t domain, const FastWeights& w) {
  return items_and_aux(domain, w).first;
}

torch::Tensor HostSequenceModel::encode_with(const torch::Tensor& items, const torch::Tensor& inputs,
                                             const FastWeights& w) {
  auto emb = torch::embedding(items, inputs, /*padding_idx=*/0);
  return backbone_->forward(emb, inputs.eq(0), w);
}

torch::Tensor HostSequenceModel::encode(int64_t domain, const torch::Tensor& inputs, const FastWeights& w) {
  return encode_with(item_vectors(domain, w), inputs, w);
}

torch::Tensor HostSequenceModel::loss(int64_t domain, const Batch& batch, const FastWeights& w) {
  auto [items, aux] = items_and_aux(domain, w);
  auto states = encode_with(items, batch.inputs, w);
  auto mask = batch.targets.gt(0);
  auto h = states.index({mask});              // [P, D]: only positions with a target
  auto targets = batch.targets.index({mask});  // [P]
  torch::Tensor loss;
  if (loss_ == LossKind::CrossEntropy) {
    // Full softmax over real items only: column j of the logits is item j + 1 (padding never predicted).
    auto logits = torch::matmul(h, items.slice(0, 1).t());  // [P, I]
    loss = torch::nn::functional::cross_entropy(logits, targets - 1);
  } else {
    if (!batch.negatives.defined()) throw Error("bce loss needs sampled negatives in the batch");
    auto pos = (h * items.index({targets})).sum(-1);                               // [P]
    auto neg = (h.unsqueeze(1) * items.index({batch.negatives.index({mask})})).sum(-1);  // [P, N]
    loss = torch::nn::functional::softplus(-pos).mean() + torch::nn::functional::softplus(neg).sum(-1).mean();
  }
  return aux.defined() ? loss + aux : loss;
}

torch::Tensor HostSequenceModel::score_next(int64_t domain, const torch::Tensor& inputs) {
  auto items = item_vectors(domain);
  auto states = encode_with(items, inputs, FastWeights());
  auto last = states.select(1, states.size(1) - 1);  // right-aligned: the last position is the newest item
  return torch::matmul(last, items.t());
}

}  // namespace xrec::engine
