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

// ce: full softmax over the domain's items; bce: sampled negatives; inbatch: in-batch contrastive (the batch's
// other targets are the negatives, a repeat of the row's own target masked).
enum class LossKind { CrossEntropy, BinaryCrossEntropy, InBatch };
LossKind parse_loss(const std::string& name);  // "ce" | "bce" | "inbatch"
std::string to_string(LossKind loss);

// How a state scores an item: dot product, or cosine similarity / temperature (UniSRec, ANT).
enum class Scoring { Dot, Cosine };

class HostSequenceModel : public SequenceModel {
 public:
  // Binds `encoder` to `domains` (parameters created here, after the backbone's and quantizer's) and, with a
  // quantizer, calls its initialize() once with the encoder's outputs. Transductive: `ids` (an `id` encoder)
  // is bound to the same domains and its vectors added to the encoder's (parameters item_ids.items_<d>).
  HostSequenceModel(const std::vector<ItemDomain>& domains, std::shared_ptr<ItemEncoder> encoder,
                    std::shared_ptr<Backbone> backbone, std::shared_ptr<Quantizer> quantizer, LossKind loss,
                    std::shared_ptr<ItemEncoder> ids = nullptr);
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
  // The quantizer's stats() (empty without a quantizer).
  MetricMap quantizer_stats() { return quantizer_ ? quantizer_->stats() : MetricMap(); }
  ItemEncoder& item_encoder() { return *encoder_; }
  // The training loss; a stage with its own `loss` switches it for its duration (RunContext::run_stage).
  LossKind loss_kind() const { return loss_; }
  void set_loss(LossKind loss) { loss_ = loss; }

  // Scoring of the losses and of score_next (default dot; temperature divides cosine scores only).
  void set_scoring(Scoring scoring, double temperature = 0.07);
  Scoring scoring() const { return scoring_; }
  // Whether loss() adds the item encoder's auxiliary_loss (default on).
  void set_aux_loss(bool on) { aux_loss_ = on; }
  bool aux_loss() const { return aux_loss_; }

  // Training losses run the backbone on groups of rows of similar length (engine/length_groups.hpp): the
  // same loss and gradients for a fraction of the padding. group_cost: the fixed cost of one more backbone
  // call, in cells; off: one call on the whole batch (for a backbone whose rows interact).
  void set_length_groups(bool on, int64_t group_cost = kDefaultGroupCost);
  bool length_groups() const { return group_cost_ >= 0; }
  static constexpr int64_t kDefaultGroupCost = 256;

 private:
  // Item vectors and the quantizer's auxiliary loss (undefined without a quantizer).
  std::pair<torch::Tensor, torch::Tensor> items_and_aux(int64_t domain, const FastWeights& w);
  torch::Tensor encoder_vectors(int64_t domain, const FastWeights& w);  // encoder (+ id table), before the quantizer
  torch::Tensor scores(const torch::Tensor& states, const torch::Tensor& items) const;  // [.., D] x [C, D] -> [.., C]
  torch::Tensor paired_scores(const torch::Tensor& states, const torch::Tensor& items) const;  // row by row
  bool cloze() const;  // the backbone is trained by masked-item prediction (BERT4Rec)
  torch::Tensor encode_with(const torch::Tensor& items, const torch::Tensor& inputs, const FastWeights& w);
  // The backbone's states of a training batch, in length groups when they are on.
  torch::Tensor train_states(const torch::Tensor& emb, const torch::Tensor& padding, const FastWeights& w);

  std::vector<ItemDomain> domains_;
  std::shared_ptr<ItemEncoder> encoder_;
  std::shared_ptr<ItemEncoder> ids_;  // transductive id tables, or null
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<Quantizer> quantizer_;
  LossKind loss_;
  Scoring scoring_ = Scoring::Dot;
  double temperature_ = 0.07;
  bool aux_loss_ = true;
  int64_t group_cost_ = kDefaultGroupCost;  // < 0: length groups off
};

}  // namespace xrec::engine
