// Backbone plugin: BERT4Rec (Sun et al., CIKM 2019), bidirectional self-attention over item vectors trained
// by masked-item (Cloze) prediction. Follows RecBole's BERT4Rec: learned positions, input LayerNorm +
// dropout, post-LN blocks, normal(0, 0.02) init, a learned mask vector and the masked-LM output transform.
// The encoder is the one sasrec uses (../common/transformer.hpp) without the causal mask; the host does the
// masking, the loss and the scoring.
#include <torch/torch.h>

#include "xrec/api/backbone.hpp"
#include "xrec/api/plugin.hpp"
#include "../common/transformer.hpp"

namespace {

using namespace xrec;

backbones::TransformerOptions bert4rec_options(const Params& p) {
  auto o = backbones::transformer_options(p, "bert4rec");
  o.norm_first = false;
  o.scale_input = false;
  o.causal = false;
  return o;
}

class BERT4Rec : public Backbone {
 public:
  explicit BERT4Rec(const Params& p) : encoder_(*this, bert4rec_options(p)), mask_prob_(p.real("mask_prob")) {
    const auto& o = encoder_.options();
    mask_ = register_parameter("mask_vector", torch::randn({o.hidden}) * o.init_std);
    if (p.flag("head")) {
      head_dense_ = backbones::make_linear(*this, "head_dense", o.hidden, o.hidden, o.init_std);
      head_norm_ = backbones::make_layer_norm(*this, "head_norm", o.hidden, o.eps);
    }
  }

  int64_t hidden_size() const override { return encoder_.options().hidden; }
  int64_t max_len() const override { return encoder_.options().max_len; }
  Objective objective() const override { return Objective::Cloze; }
  double mask_prob() const override { return mask_prob_; }
  torch::Tensor mask_vector(const FastWeights& w) override { return w(mask_); }

  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    return head(encoder_.forward(items, padding, w, is_training()), w);
  }
  // Inference asks about the masked position the host appends: the last block computes that query only.
  torch::Tensor forward_last(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    return head(encoder_.forward(items, padding, w, is_training(), /*last_only=*/true), w);
  }

 private:
  torch::Tensor head(const torch::Tensor& x, const FastWeights& w) {
    if (!head_dense_.weight.defined()) return x;
    return head_norm_(torch::gelu(head_dense_(x, w)), w);  // BERT's masked-LM transform (GELU, as RecBole)
  }

  backbones::TransformerEncoder encoder_;
  double mask_prob_;
  torch::Tensor mask_;
  backbones::Linear head_dense_;
  backbones::LayerNorm head_norm_;
};

}  // namespace

XREC_PLUGIN("bert4rec", "1.0.0", "BERT4Rec: bidirectional Transformer trained by masked-item prediction") {
  using namespace xrec::param;
  auto params = xrec::backbones::transformer_params(/*dropout=*/0.2, /*attn_dropout=*/0.2);
  params.push_back(real("mask_prob", 0.2, "Share of the items masked in training (RecBole's mask_ratio)").range(0, 1));
  params.push_back(boolean("head", true,
                           "BERT's masked-LM transform (dense + GELU + LayerNorm) after the last block, as in the "
                           "original TensorFlow code and RecBole 1.2; false: the last block's output (RecBole 1.0)"));
  registrar.add_backbone(
      "bert4rec",
      "Bidirectional self-attention over item vectors with learned positions, trained by masked-item prediction "
      "(Sun et al., CIKM 2019). Defaults follow RecBole (post-LN, GELU, normal(0, 0.02) init, mask_ratio 0.2).",
      std::move(params),
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<BERT4Rec>(p); });
}
