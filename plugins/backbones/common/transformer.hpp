#pragma once
// The Transformer encoder shared by sasrec (causal) and bert4rec (bidirectional): learned right-aligned
// positions, input LayerNorm + dropout, then post-LN (BERT, S3-Rec, RecBole) or pre-LN blocks (original
// SASRec, plus a final LayerNorm). Parameter names are those sasrec has always used, so checkpoints and
// strategies that address parameters by name keep working.
#include <torch/nn/module.h>

#include <cmath>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/fast_weights.hpp"
#include "xrec/api/params.hpp"
#include "layers.hpp"

namespace xrec::backbones {

struct TransformerOptions {
  std::string component;  // "sasrec": names the backbone in error messages
  int64_t hidden = 64, layers = 2, heads = 2, inner = 256, max_len = 50;
  double dropout = 0.2, attn_dropout = 0.2, init_std = 0.02, eps = 1e-12;
  bool gelu = true;
  bool norm_first = false;   // pre-LN blocks and a final LayerNorm
  bool scale_input = false;  // item vectors * sqrt(hidden) before positions are added
  bool causal = true;        // a position attends to itself and earlier positions only
};

// The parameters every Transformer backbone declares; the dropout defaults differ between models.
inline ParamSpecs transformer_params(double dropout, double attn_dropout) {
  using namespace param;
  return {
      integer("hidden", 64, "Hidden size = item vector size").range(1, 8192),
      integer("layers", 2, "Self-attention blocks").range(1, 64),
      integer("heads", 2, "Attention heads (must divide hidden)").range(1, 64),
      integer("inner", 0, "Feed-forward inner size; 0 = 4 * hidden").at_least(0),
      integer("max_len", 50, "Longest history read (the most recent items are kept)").range(1, 4096),
      real("dropout", dropout, "Dropout on embeddings and block outputs").range(0, 1),
      real("attn_dropout", attn_dropout, "Dropout on attention weights").range(0, 1),
      string("activation", "gelu", "Feed-forward activation").one_of({"gelu", "relu"}),
      real("init_std", 0.02, "Std of the normal initialisation of weights and positions").at_least(0),
      real("layer_norm_eps", 1e-12, "LayerNorm epsilon").at_least(0),
  };
}

// Reads the parameters declared by transformer_params; throws InputError when heads does not divide hidden.
inline TransformerOptions transformer_options(const Params& p, const std::string& component) {
  TransformerOptions o;
  o.component = component;
  o.hidden = p.integer("hidden");
  o.layers = p.integer("layers");
  o.heads = p.integer("heads");
  o.inner = p.integer("inner") > 0 ? p.integer("inner") : 4 * o.hidden;
  o.max_len = p.integer("max_len");
  o.dropout = p.real("dropout");
  o.attn_dropout = p.real("attn_dropout");
  o.init_std = p.real("init_std");
  o.eps = p.real("layer_norm_eps");
  o.gelu = p.str("activation") == "gelu";
  if (o.hidden % o.heads != 0)
    throw InputError("backbone (" + component + "): hidden (" + std::to_string(o.hidden) +
                     ") must be divisible by heads (" + std::to_string(o.heads) + ")");
  return o;
}

class TransformerEncoder {
 public:
  // Registers on `owner`, in this order: positions, input_norm_*, then per block l layer<l>_{q,k,v,out,ff1,ff2}_*
  // and layer<l>_ln_{attn,ff}_*, then final_norm_* (pre-LN only). Weights normal(0, init_std), biases 0.
  // input_norm_* is registered in pre-LN mode too (unused there), so both modes share one parameter list.
  TransformerEncoder(torch::nn::Module& owner, TransformerOptions o) : o_(std::move(o)) {
    positions_ = owner.register_parameter("positions", torch::randn({o_.max_len, o_.hidden}) * o_.init_std);
    input_norm_ = make_layer_norm(owner, "input_norm", o_.hidden, o_.eps);
    for (int64_t l = 0; l < o_.layers; ++l) {
      const std::string n = "layer" + std::to_string(l) + "_";
      Block b;
      b.q = make_linear(owner, n + "q", o_.hidden, o_.hidden, o_.init_std);
      b.k = make_linear(owner, n + "k", o_.hidden, o_.hidden, o_.init_std);
      b.v = make_linear(owner, n + "v", o_.hidden, o_.hidden, o_.init_std);
      b.out = make_linear(owner, n + "out", o_.hidden, o_.hidden, o_.init_std);
      b.ff1 = make_linear(owner, n + "ff1", o_.hidden, o_.inner, o_.init_std);
      b.ff2 = make_linear(owner, n + "ff2", o_.inner, o_.hidden, o_.init_std);
      b.ln_attn = make_layer_norm(owner, n + "ln_attn", o_.hidden, o_.eps);
      b.ln_ff = make_layer_norm(owner, n + "ln_ff", o_.hidden, o_.eps);
      blocks_.push_back(b);
    }
    if (o_.norm_first) final_norm_ = make_layer_norm(owner, "final_norm", o_.hidden, o_.eps);
  }

  const TransformerOptions& options() const { return o_; }

  // items [B, L, D] right-aligned, padding [B, L] true where no item -> states [B, L, D]; with last_only,
  // the states of the last position only, [B, D]: the last block then computes one query per row (keys and
  // values still over every position), which is all next-item scoring needs.
  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w,
                        bool training, bool last_only = false) const {
    const int64_t B = items.size(0), L = items.size(1);
    if (L > o_.max_len)
      throw Error(o_.component + ": sequence length " + std::to_string(L) + " exceeds max_len " +
                  std::to_string(o_.max_len));
    auto x = o_.scale_input ? items * std::sqrt(static_cast<double>(o_.hidden)) : items;
    // Right-aligned: the newest item has the last position, whatever the amount of left padding.
    x = x + w(positions_).slice(0, o_.max_len - L).unsqueeze(0);
    if (!o_.norm_first) x = input_norm_(x, w);
    x = torch::dropout(x, o_.dropout, training);
    // Additive mask: padding keys are never attended to (and later keys too when causal). Large negative, not
    // -inf, so a query with no valid key (a padding query) gets a harmless uniform row instead of NaN.
    auto blocked = padding.unsqueeze(1).expand({B, L, L});  // [B, L(query), L(key)]
    if (o_.causal) {
      auto later = torch::ones({L, L}, torch::TensorOptions().dtype(torch::kBool).device(items.device())).triu(1);
      blocked = blocked | later.unsqueeze(0);
    }
    auto mask = torch::zeros({B, 1, L, L}, items.options()).masked_fill(blocked.unsqueeze(1), -1e9);
    for (size_t l = 0; l < blocks_.size(); ++l) {
      const Block& b = blocks_[l];
      // The rows whose states this block must produce: all, or the last one in the last block.
      const bool one = last_only && l + 1 == blocks_.size();
      auto query_rows = [&](const torch::Tensor& t) { return one ? t.slice(1, L - 1) : t; };
      const auto& m = one ? mask.slice(2, L - 1) : mask;
      if (o_.norm_first) {
        auto normed = b.ln_attn(x, w);
        x = query_rows(x) +
            torch::dropout(attention(b, query_rows(normed), normed, m, w, training), o_.dropout, training);
        x = x + torch::dropout(feed_forward(b, b.ln_ff(x, w), w), o_.dropout, training);
      } else {
        x = b.ln_attn(query_rows(x) + torch::dropout(attention(b, query_rows(x), x, m, w, training), o_.dropout,
                                                     training), w);
        x = b.ln_ff(x + torch::dropout(feed_forward(b, x, w), o_.dropout, training), w);
      }
    }
    if (o_.norm_first) x = final_norm_(x, w);
    return last_only ? x.select(1, x.size(1) - 1) : x;
  }

 private:
  struct Block {
    Linear q, k, v, out, ff1, ff2;
    LayerNorm ln_attn, ln_ff;
  };

  // Queries from xq [B, Lq, D], keys and values from x [B, L, D]; mask [B, 1, Lq, L].
  torch::Tensor attention(const Block& b, const torch::Tensor& xq, const torch::Tensor& x, const torch::Tensor& mask,
                          const FastWeights& w, bool training) const {
    const int64_t B = x.size(0), d = o_.hidden / o_.heads;
    auto split = [&](const torch::Tensor& t) {  // [B, n, D] -> [B, H, n, d]
      return t.view({B, t.size(1), o_.heads, d}).transpose(1, 2);
    };
    auto q = split(b.q(xq, w)), k = split(b.k(x, w)), v = split(b.v(x, w));
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d)) + mask;
    auto attn = torch::dropout(torch::softmax(scores, -1), o_.attn_dropout, training);
    auto ctx = torch::matmul(attn, v).transpose(1, 2).reshape({B, xq.size(1), o_.hidden});
    return b.out(ctx, w);
  }

  torch::Tensor feed_forward(const Block& b, const torch::Tensor& x, const FastWeights& w) const {
    auto h = b.ff1(x, w);
    return b.ff2(o_.gelu ? torch::gelu(h) : torch::relu(h), w);
  }

  TransformerOptions o_;
  torch::Tensor positions_;
  LayerNorm input_norm_, final_norm_;
  std::vector<Block> blocks_;
};

}  // namespace xrec::backbones
