#include "xrec/engine/sequence_model.hpp"

#include <torch/torch.h>

#include "xrec/api/errors.hpp"
#include "xrec/engine/item_encoders.hpp"
#include "xrec/engine/length_groups.hpp"

#include <limits>

namespace xrec::engine {

namespace {
// Ids built on the host (TrainBatches, pack_histories, a strategy's own batches) follow the item vectors to
// their device, so callers need not know where the model lives; a no-op when they are already there.
torch::Tensor follow(const torch::Tensor& ids, const torch::Tensor& items) {
  return ids.defined() && ids.device() != items.device() ? ids.to(items.device()) : ids;
}
}  // namespace

LossKind parse_loss(const std::string& name) {
  if (name == "ce") return LossKind::CrossEntropy;
  if (name == "bce") return LossKind::BinaryCrossEntropy;
  if (name == "inbatch") return LossKind::InBatch;
  throw InputError("unknown loss '" + name + "' (expected ce, inbatch or bce)");
}

std::string to_string(LossKind loss) {
  switch (loss) {
    case LossKind::CrossEntropy: return "ce";
    case LossKind::BinaryCrossEntropy: return "bce";
    case LossKind::InBatch: return "inbatch";
  }
  return "?";
}

namespace {
std::vector<ItemDomain> bare_domains(const std::vector<int64_t>& num_items) {
  std::vector<ItemDomain> d;
  for (size_t i = 0; i < num_items.size(); ++i) d.push_back({"domain" + std::to_string(i), num_items[i], nullptr});
  return d;
}
}  // namespace

HostSequenceModel::HostSequenceModel(std::vector<int64_t> num_items, std::shared_ptr<Backbone> backbone,
                                     std::shared_ptr<Quantizer> quantizer, LossKind loss, double init_std)
    : HostSequenceModel(bare_domains(num_items), std::make_shared<IdItemEncoder>(init_std), std::move(backbone),
                        std::move(quantizer), loss) {}

HostSequenceModel::HostSequenceModel(const std::vector<ItemDomain>& domains, std::shared_ptr<ItemEncoder> encoder,
                                     std::shared_ptr<Backbone> backbone, std::shared_ptr<Quantizer> quantizer,
                                     LossKind loss, std::shared_ptr<ItemEncoder> ids)
    : domains_(domains),
      encoder_(std::move(encoder)),
      ids_(std::move(ids)),
      backbone_(std::move(backbone)),
      quantizer_(std::move(quantizer)),
      loss_(loss) {
  if (!backbone_) throw Error("HostSequenceModel needs a backbone");
  if (!encoder_) throw Error("HostSequenceModel needs an item encoder");
  for (auto& d : domains_)
    if (d.num_items < 1) throw InputError("domain '" + d.name + "' has no items");
  // Parameter order (and so FastWeights::from and the optimizer's order): item encoder, id tables of a
  // transductive model, backbone, quantizer.
  encoder_->bind(domains_, backbone_->hidden_size());
  register_module("item_encoder", encoder_);
  if (ids_) {
    ids_->bind(domains_, backbone_->hidden_size());
    register_module("item_ids", ids_);
  }
  register_module("backbone", backbone_);
  if (quantizer_) register_module("quantizer", quantizer_);
  initialize_quantizer();
}

void HostSequenceModel::initialize_quantizer() {
  if (!quantizer_) return;
  torch::NoGradGuard no_grad;
  QuantizerInit init;
  init.domains = domains_;
  for (size_t d = 0; d < domains_.size(); ++d)
    init.item_vectors.push_back(encoder_vectors(static_cast<int64_t>(d), FastWeights()).detach());
  quantizer_->initialize(init);
}

std::pair<torch::Tensor, torch::Tensor> HostSequenceModel::items_and_aux(int64_t domain, const FastWeights& w) {
  if (domain < 0 || domain >= num_domains())
    throw Error("model has no domain " + std::to_string(domain) + " (" + std::to_string(num_domains()) + " domains)");
  torch::Tensor table = encoder_vectors(domain, w);
  if (!quantizer_) return {table, torch::Tensor()};
  Quantized q = quantizer_->forward_domain(domain, table, w);
  return {q.vectors, q.loss};
}

torch::Tensor HostSequenceModel::encoder_vectors(int64_t domain, const FastWeights& w) {
  torch::Tensor table = encoder_->forward(domain, w);
  // Transductive: the id table added to the encoder's vectors (both have a zero padding row).
  return ids_ ? table + ids_->forward(domain, w) : table;
}

void HostSequenceModel::set_scoring(Scoring scoring, double temperature) {
  if (!(temperature > 0)) throw InputError("scoring temperature must be > 0, got " + std::to_string(temperature));
  scoring_ = scoring;
  temperature_ = temperature;
}

torch::Tensor HostSequenceModel::scores(const torch::Tensor& states, const torch::Tensor& items) const {
  if (scoring_ == Scoring::Dot) return torch::matmul(states, items.t());
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(-1);
  return torch::matmul(F::normalize(states, unit), F::normalize(items, unit).t()) / temperature_;
}

torch::Tensor HostSequenceModel::paired_scores(const torch::Tensor& states, const torch::Tensor& items) const {
  if (scoring_ == Scoring::Dot) return (states * items).sum(-1);
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(-1);
  return (F::normalize(states, unit) * F::normalize(items, unit)).sum(-1) / temperature_;
}

torch::Tensor HostSequenceModel::item_vectors(int64_t domain, const FastWeights& w) {
  return items_and_aux(domain, w).first;
}

torch::Tensor HostSequenceModel::encode_with(const torch::Tensor& items, const torch::Tensor& host_inputs,
                                             const FastWeights& w) {
  const torch::Tensor inputs = follow(host_inputs, items);
  auto emb = torch::embedding(items, inputs, /*padding_idx=*/0);
  return backbone_->forward(emb, inputs.eq(0), w);
}

void HostSequenceModel::set_length_groups(bool on, int64_t group_cost) {
  if (on && group_cost < 0) throw Error("length groups: group_cost must be >= 0");
  group_cost_ = on ? group_cost : -1;
}

torch::Tensor HostSequenceModel::train_states(const torch::Tensor& emb, const torch::Tensor& padding,
                                              const FastWeights& w) {
  if (group_cost_ < 0) return backbone_->forward(emb, padding, w);
  return encode_in_length_groups(emb, padding, group_cost_, [&](const torch::Tensor& e, const torch::Tensor& p) {
    return backbone_->forward(e, p, w);
  });
}

torch::Tensor HostSequenceModel::encode(int64_t domain, const torch::Tensor& inputs, const FastWeights& w) {
  return encode_with(item_vectors(domain, w), inputs, w);
}

namespace {
// A masked-item (Cloze) training view of a next-item batch. The whole sequence is the inputs plus the last
// target (right-aligned, capped at max_len); each real item is masked with probability p, and a row where
// nothing was drawn gets its newest item masked (the position inference asks about).
struct ClozeView {
  torch::Tensor sequence;  // [B, L] item ids, 0 = padding
  torch::Tensor masked;    // [B, L] bool
};

ClozeView cloze_view(const Batch& batch, int64_t max_len, double p) {
  auto seq = torch::cat({batch.inputs, batch.targets.slice(1, batch.targets.size(1) - 1)}, 1);
  if (seq.size(1) > max_len) seq = seq.slice(1, seq.size(1) - max_len);
  auto real = seq.gt(0);
  auto masked = torch::rand(seq.sizes(), torch::TensorOptions().device(seq.device())).lt(p).logical_and(real);
  auto force = torch::zeros_like(masked);
  const int64_t last = seq.size(1) - 1;
  force.select(1, last).copy_(masked.any(1).logical_not().logical_and(real.select(1, last)));
  return {seq, masked.logical_or(force)};
}
}  // namespace

bool HostSequenceModel::cloze() const { return backbone_->objective() == Objective::Cloze; }

torch::Tensor HostSequenceModel::loss(int64_t domain, const Batch& host_batch, const FastWeights& w) {
  auto [items, aux] = items_and_aux(domain, w);
  const Batch batch{follow(host_batch.inputs, items), follow(host_batch.targets, items),
                    follow(host_batch.negatives, items)};
  torch::Tensor h, targets, negatives;  // h: [P, D] states that predict targets: [P]
  if (cloze()) {
    ClozeView v = cloze_view(batch, backbone_->max_len(), backbone_->mask_prob());
    auto emb = torch::embedding(items, v.sequence, /*padding_idx=*/0);
    emb = torch::where(v.masked.unsqueeze(-1), backbone_->mask_vector(w).to(emb.dtype()), emb);
    auto states = train_states(emb, v.sequence.eq(0), w);
    h = states.index({v.masked});
    targets = v.sequence.index({v.masked});
    if (batch.negatives.defined())  // positions differ from the next-item batch: draw fresh uniform negatives
      negatives = torch::randint(1, items.size(0), {targets.size(0), batch.negatives.size(2)},
                                 torch::TensorOptions().dtype(torch::kLong).device(targets.device()));
  } else {
    auto states = train_states(torch::embedding(items, batch.inputs, /*padding_idx=*/0), batch.inputs.eq(0), w);
    auto mask = batch.targets.gt(0);
    h = states.index({mask});              // only positions with a target
    targets = batch.targets.index({mask});
    if (batch.negatives.defined()) negatives = batch.negatives.index({mask});
  }
  torch::Tensor loss;
  if (loss_ == LossKind::CrossEntropy) {
    // Full softmax over real items only: column j of the logits is item j + 1 (padding never predicted).
    auto logits = scores(h, items.slice(0, 1));  // [P, I]
    loss = torch::nn::functional::cross_entropy(logits, targets - 1);
  } else if (loss_ == LossKind::InBatch) {
    // In-batch contrastive (UniSRec, ANT): each predicting position against the target items of all P positions
    // of the batch; another position with the same target is no negative (masked), its own target the positive.
    auto logits = scores(h, items.index({targets}));  // [P, P]
    auto same = targets.unsqueeze(1).eq(targets.unsqueeze(0));
    same.fill_diagonal_(false);
    logits = logits.masked_fill(same, -std::numeric_limits<double>::infinity());
    loss = torch::nn::functional::cross_entropy(
        logits, torch::arange(targets.size(0), torch::TensorOptions().dtype(torch::kLong).device(targets.device())));
  } else {
    if (!negatives.defined()) throw Error("bce loss needs sampled negatives in the batch");
    auto pos = paired_scores(h, items.index({targets}));                // [P]
    auto neg = paired_scores(h.unsqueeze(1), items.index({negatives}));  // [P, N]
    loss = torch::nn::functional::softplus(-pos).mean() + torch::nn::functional::softplus(neg).sum(-1).mean();
  }
  if (aux.defined()) loss = loss + aux;
  if (aux_loss_) {
    torch::Tensor extra = encoder_->auxiliary_loss(domain, targets, w);
    if (extra.defined()) loss = loss + extra;
  }
  return loss;
}

torch::Tensor HostSequenceModel::score_next(int64_t domain, const torch::Tensor& host_inputs, const FastWeights& w) {
  auto items = item_vectors(domain, w);
  const torch::Tensor inputs = follow(host_inputs, items);
  torch::Tensor last;  // [B, D] state of the newest position (right-aligned)
  if (cloze()) {
    // Ask for the item after the history: one masked position appended (the oldest item drops at max_len).
    auto seq = torch::cat({inputs, torch::zeros({inputs.size(0), 1}, inputs.options())}, 1);
    if (seq.size(1) > backbone_->max_len()) seq = seq.slice(1, seq.size(1) - backbone_->max_len());
    auto emb = torch::embedding(items, seq.slice(1, 0, seq.size(1) - 1), /*padding_idx=*/0);
    auto mask = backbone_->mask_vector(w).to(emb.dtype()).expand({seq.size(0), 1, emb.size(2)});
    auto padding = seq.eq(0);
    padding.select(1, seq.size(1) - 1).fill_(false);
    last = backbone_->forward_last(torch::cat({emb, mask}, 1), padding, w);
  } else {
    last = backbone_->forward_last(torch::embedding(items, inputs, /*padding_idx=*/0), inputs.eq(0), w);
  }
  return scores(last, items);
}

}  // namespace xrec::engine
