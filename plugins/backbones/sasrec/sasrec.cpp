// Backbone plugin: SASRec (Kang & McAuley, ICDM 2018), causal self-attention over item vectors with
// learned positions. Post-LN blocks as in S3-Rec / RecBole (the default) or pre-LN blocks with a final
// LayerNorm as in the original TensorFlow code. Written with functional ops so every parameter goes
// through FastWeights (meta learning can run it with adapted weights).
#include <torch/torch.h>

#include <cmath>

#include "xrec/api/backbone.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;
namespace F = torch::nn::functional;

struct Linear {
  torch::Tensor weight, bias;
  torch::Tensor operator()(const torch::Tensor& x, const FastWeights& w) const {
    return F::linear(x, w(weight), w(bias));
  }
};

struct LayerNorm {
  torch::Tensor weight, bias;
  double eps;
  torch::Tensor operator()(const torch::Tensor& x, const FastWeights& w) const {
    return torch::layer_norm(x, {x.size(-1)}, w(weight), w(bias), eps);
  }
};

struct Block {
  Linear q, k, v, out, ff1, ff2;
  LayerNorm ln_attn, ln_ff;
};

class SASRec : public Backbone {
 public:
  explicit SASRec(const Params& p)
      : hidden_(p.integer("hidden")), heads_(p.integer("heads")), max_len_(p.integer("max_len")),
        dropout_(p.real("dropout")), attn_dropout_(p.real("attn_dropout")), norm_first_(p.str("norm") == "pre"),
        gelu_(p.str("activation") == "gelu"), scale_input_(p.flag("scale_input")) {
    if (hidden_ % heads_ != 0)
      throw InputError("backbone (sasrec): hidden (" + std::to_string(hidden_) + ") must be divisible by heads (" +
                       std::to_string(heads_) + ")");
    const int64_t inner = p.integer("inner") > 0 ? p.integer("inner") : 4 * hidden_;
    const double std = p.real("init_std"), eps = p.real("layer_norm_eps");
    positions_ = register_parameter("positions", torch::randn({max_len_, hidden_}) * std);
    input_norm_ = norm("input_norm", eps);
    for (int64_t l = 0; l < p.integer("layers"); ++l) {
      const std::string n = "layer" + std::to_string(l) + "_";
      Block b;
      b.q = linear(n + "q", hidden_, hidden_, std);
      b.k = linear(n + "k", hidden_, hidden_, std);
      b.v = linear(n + "v", hidden_, hidden_, std);
      b.out = linear(n + "out", hidden_, hidden_, std);
      b.ff1 = linear(n + "ff1", hidden_, inner, std);
      b.ff2 = linear(n + "ff2", inner, hidden_, std);
      b.ln_attn = norm(n + "ln_attn", eps);
      b.ln_ff = norm(n + "ln_ff", eps);
      blocks_.push_back(b);
    }
    if (norm_first_) final_norm_ = norm("final_norm", eps);
  }

  int64_t hidden_size() const override { return hidden_; }
  int64_t max_len() const override { return max_len_; }

  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    const int64_t B = items.size(0), L = items.size(1);
    if (L > max_len_)
      throw Error("sasrec: sequence length " + std::to_string(L) + " exceeds max_len " + std::to_string(max_len_));
    auto x = scale_input_ ? items * std::sqrt(static_cast<double>(hidden_)) : items;
    x = x + w(positions_).slice(0, max_len_ - L).unsqueeze(0);  // right-aligned: the newest item has the last position
    if (!norm_first_) x = input_norm_(x, w);
    x = F::dropout(x, F::DropoutFuncOptions().p(dropout_).training(is_training()));
    // Additive mask: a query attends to itself and earlier non-padding keys. Large negative, not -inf, so a
    // padding query (no valid key) gets a harmless uniform row instead of NaN.
    auto causal = torch::ones({L, L}, torch::TensorOptions().dtype(torch::kBool).device(items.device())).triu(1);
    auto blocked = causal.unsqueeze(0) | padding.unsqueeze(1);  // [B, L(query), L(key)]
    auto mask = torch::zeros({B, 1, L, L}, items.options()).masked_fill(blocked.unsqueeze(1), -1e9);
    for (auto& b : blocks_) {
      if (norm_first_) {
        x = x + F::dropout(attention(b, b.ln_attn(x, w), mask, w), F::DropoutFuncOptions().p(dropout_).training(is_training()));
        x = x + F::dropout(feed_forward(b, b.ln_ff(x, w), w), F::DropoutFuncOptions().p(dropout_).training(is_training()));
      } else {
        x = b.ln_attn(x + F::dropout(attention(b, x, mask, w), F::DropoutFuncOptions().p(dropout_).training(is_training())), w);
        x = b.ln_ff(x + F::dropout(feed_forward(b, x, w), F::DropoutFuncOptions().p(dropout_).training(is_training())), w);
      }
    }
    if (norm_first_) x = final_norm_(x, w);
    return x;
  }

 private:
  torch::Tensor attention(const Block& b, const torch::Tensor& x, const torch::Tensor& mask, const FastWeights& w) {
    const int64_t B = x.size(0), L = x.size(1), d = hidden_ / heads_;
    auto split = [&](const torch::Tensor& t) { return t.view({B, L, heads_, d}).transpose(1, 2); };  // [B,H,L,d]
    auto q = split(b.q(x, w)), k = split(b.k(x, w)), v = split(b.v(x, w));
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d)) + mask;
    auto attn = F::dropout(torch::softmax(scores, -1), F::DropoutFuncOptions().p(attn_dropout_).training(is_training()));
    auto ctx = torch::matmul(attn, v).transpose(1, 2).reshape({B, L, hidden_});
    return b.out(ctx, w);
  }

  torch::Tensor feed_forward(const Block& b, const torch::Tensor& x, const FastWeights& w) {
    auto h = b.ff1(x, w);
    h = gelu_ ? F::gelu(h) : torch::relu(h);
    return b.ff2(h, w);
  }

  Linear linear(const std::string& name, int64_t in, int64_t out, double std) {
    return {register_parameter(name + "_weight", torch::randn({out, in}) * std),
            register_parameter(name + "_bias", torch::zeros({out}))};
  }
  LayerNorm norm(const std::string& name, double eps) {
    return {register_parameter(name + "_weight", torch::ones({hidden_})),
            register_parameter(name + "_bias", torch::zeros({hidden_})), eps};
  }

  int64_t hidden_, heads_, max_len_;
  double dropout_, attn_dropout_;
  bool norm_first_, gelu_, scale_input_;
  torch::Tensor positions_;
  LayerNorm input_norm_, final_norm_;
  std::vector<Block> blocks_;
};

}  // namespace

XREC_PLUGIN("sasrec", "1.0.0", "SASRec: self-attentive sequential recommendation (causal Transformer)") {
  using namespace xrec::param;
  registrar.add_backbone(
      "sasrec",
      "Causal self-attention over item vectors with learned positions (Kang & McAuley, ICDM 2018). "
      "Defaults follow the S3-Rec / RecBole implementation (post-LN, GELU, normal(0, 0.02) init).",
      {
          integer("hidden", 64, "Hidden size = item vector size").range(1, 8192),
          integer("layers", 2, "Self-attention blocks").range(1, 64),
          integer("heads", 2, "Attention heads (must divide hidden)").range(1, 64),
          integer("inner", 0, "Feed-forward inner size; 0 = 4 * hidden").at_least(0),
          integer("max_len", 50, "Longest history read (the most recent items are kept)").range(1, 4096),
          real("dropout", 0.5, "Dropout on embeddings and block outputs").range(0, 1),
          real("attn_dropout", 0.5, "Dropout on attention weights").range(0, 1),
          string("norm", "post", "post: LayerNorm after each residual (BERT, S3-Rec); pre: before, plus a final LayerNorm "
                                 "(original SASRec)").one_of({"post", "pre"}),
          string("activation", "gelu", "Feed-forward activation").one_of({"gelu", "relu"}),
          boolean("scale_input", false, "Multiply item vectors by sqrt(hidden) before adding positions (original SASRec)"),
          real("init_std", 0.02, "Std of the normal initialisation of weights and positions").at_least(0),
          real("layer_norm_eps", 1e-12, "LayerNorm epsilon").at_least(0),
      },
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<SASRec>(p); });
}
