// Backbone plugin: SASRec (Kang & McAuley, ICDM 2018), causal self-attention over item vectors with
// learned positions. Post-LN blocks as in S3-Rec / RecBole (the default) or pre-LN blocks with a final
// LayerNorm as in the original TensorFlow code. The encoder (../common/transformer.hpp, shared with bert4rec)
// is written with functional ops so every parameter goes through FastWeights (meta learning can run it with
// adapted weights).
#include <torch/torch.h>

#include "xrec/api/backbone.hpp"
#include "xrec/api/plugin.hpp"
#include "../common/transformer.hpp"

namespace {

using namespace xrec;

backbones::TransformerOptions sasrec_options(const Params& p) {
  auto o = backbones::transformer_options(p, "sasrec");
  o.norm_first = p.str("norm") == "pre";
  o.scale_input = p.flag("scale_input");
  o.causal = true;
  return o;
}

class SASRec : public Backbone {
 public:
  explicit SASRec(const Params& p) : encoder_(*this, sasrec_options(p)) {}

  int64_t hidden_size() const override { return encoder_.options().hidden; }
  int64_t max_len() const override { return encoder_.options().max_len; }

  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    return encoder_.forward(items, padding, w, is_training());
  }
  // Next-item scoring reads the newest position only: the last block computes that query alone.
  torch::Tensor forward_last(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    return encoder_.forward(items, padding, w, is_training(), /*last_only=*/true);
  }

 private:
  backbones::TransformerEncoder encoder_;
};

}  // namespace

XREC_PLUGIN("sasrec", "1.0.0", "SASRec: self-attentive sequential recommendation (causal Transformer)") {
  using namespace xrec::param;
  auto params = xrec::backbones::transformer_params(/*dropout=*/0.5, /*attn_dropout=*/0.5);
  params.push_back(string("norm", "post", "post: LayerNorm after each residual (BERT, S3-Rec); pre: before, plus a "
                                          "final LayerNorm (original SASRec)").one_of({"post", "pre"}));
  params.push_back(boolean("scale_input", false,
                           "Multiply item vectors by sqrt(hidden) before adding positions (original SASRec)"));
  registrar.add_backbone(
      "sasrec",
      "Causal self-attention over item vectors with learned positions (Kang & McAuley, ICDM 2018). "
      "Defaults follow the S3-Rec / RecBole implementation (post-LN, GELU, normal(0, 0.02) init).",
      std::move(params),
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<SASRec>(p); });
}
