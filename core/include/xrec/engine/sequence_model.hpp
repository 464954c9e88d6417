#pragma once
// The host's SequenceModel: an item encoder bound to the model's domains (the built-in `id` encoder: one item
// table per domain, nothing shared), an optional shared quantizer in front of a shared backbone, dot-product
// scores against the domain's (quantized) item vectors.
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/item_encoder.hpp"
#include "xrec/api/model.hpp"
#include "xrec/api/quantizer.hpp"

namespace xrec::engine {

enum class LossKind { CrossEntropy, BinaryCrossEntropy };
LossKind parse_loss(const std::string& name);  // "ce" | "bce"

class HostSequenceModel : public SequenceModel {
 public:
  // Binds `encoder` to `domains` (parameters created here, after the backbone's and quantizer's) and, with a
  // quantizer, calls its initialize() once with the encoder's outputs.
  HostSequenceModel(const std::vector<ItemDomain>& domains, std::shared_ptr<ItemEncoder> encoder,
                    std::shared_ptr<Backbone> backbone, std::shared_ptr<Quantizer> quantizer, LossKind loss);
  // The `id` encoder over domains with these item counts (ids 1..n, 0 = padding) and no data.
  HostSequenceModel(std::vector<int64_t> num_items, std::shared_ptr<Backbone> backbone,
                    std::shared_ptr<Quantizer> quantizer, LossKind loss, double init_std = 0.02);

  int64_t num_domains() const override { return static_cast<int64_t>(domains_.size()); }
  int64_t num_items(int64_t domain) const override { return domains_.at(static_cast<size_t>(domain)).num_items; }
  Backbone& backbone() override { return *backbone_; }

  torch::Tensor item_vectors(int64_t domain, const FastWeights& w = FastWeights()) override;
  torch::Tensor encode(int64_t domain, const torch::Tensor& inputs, const FastWeights& w = FastWeights()) override;
  torch::Tensor loss(int64_t domain, const Batch& batch, const FastWeights& w = FastWeights()) override;
  torch::Tensor score_next(int64_t domain, const torch::Tensor& inputs, const FastWeights& w = FastWeights()) override;
  void initialize_quantizer() override;
  ItemEncoder& item_encoder() { return *encoder_; }
  // The training loss; a stage with its own `loss` switches it for its duration (RunContext::run_stage).
  LossKind loss_kind() const { return loss_; }
  void set_loss(LossKind loss) { loss_ = loss; }

  // Training losses run the backbone on groups of rows of similar length (engine/length_groups.hpp): the
  // same loss and gradients for a fraction of the padding. group_cost: the fixed cost of one more backbone
  // call, in cells; off: one call on the whole batch (for a backbone whose rows interact).
  void set_length_groups(bool on, int64_t group_cost = kDefaultGroupCost);
  bool length_groups() const { return group_cost_ >= 0; }
  static constexpr int64_t kDefaultGroupCost = 256;

 private:
  // Item vectors and the quantizer's auxiliary loss (undefined without a quantizer).
  std::pair<torch::Tensor, torch::Tensor> items_and_aux(int64_t domain, const FastWeights& w);
  bool cloze() const;  // the backbone is trained by masked-item prediction (BERT4Rec)
  torch::Tensor encode_with(const torch::Tensor& items, const torch::Tensor& inputs, const FastWeights& w);
  // The backbone's states of a training batch, in length groups when they are on.
  torch::Tensor train_states(const torch::Tensor& emb, const torch::Tensor& padding, const FastWeights& w);

  std::vector<ItemDomain> domains_;
  std::shared_ptr<ItemEncoder> encoder_;
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<Quantizer> quantizer_;
  LossKind loss_;
  int64_t group_cost_ = kDefaultGroupCost;  // < 0: length groups off
};

}  // namespace xrec::engine
