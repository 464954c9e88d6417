// Backbone plugin: GRU4Rec (Hidasi et al., ICLR 2016) as RecBole implements it, so that RecBole's numbers can
// be reproduced: dropout on the input item vectors, a (stacked) GRU without biases, then a dense layer from
// the GRU state back to the item-vector size. The GRU is written with functional ops so every parameter goes
// through FastWeights: the input projections of all steps are one matmul, then a loop over time applies the
// hidden projection with torch.nn.GRU's gates. Padding steps (on the left) keep the state at zero, so the
// amount of left padding never changes the result.
#include <torch/torch.h>

#include <cmath>

#include "xrec/api/backbone.hpp"
#include "xrec/api/plugin.hpp"
#include "../common/layers.hpp"

namespace {

using namespace xrec;
using backbones::Linear;

class GRU4Rec : public Backbone {
 public:
  explicit GRU4Rec(const Params& p)
      : hidden_(p.integer("hidden")), gru_hidden_(p.integer("gru_hidden")), max_len_(p.integer("max_len")),
        dropout_(p.real("dropout")) {
    const bool bias = p.flag("bias"), recbole = p.str("init") == "recbole";
    const int64_t H = gru_hidden_;
    torch::NoGradGuard no_grad;
    // torch.nn.GRU's and nn.Linear's own initialisation: uniform(-1/sqrt(fan), 1/sqrt(fan)) for every tensor.
    auto uniform = [](std::vector<int64_t> shape, int64_t fan) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan));
      return torch::empty(shape).uniform_(-bound, bound);
    };
    for (int64_t l = 0; l < p.integer("layers"); ++l) {
      const std::string s = "_l" + std::to_string(l);
      const int64_t in = l == 0 ? hidden_ : H;
      // Registered in torch.nn.GRU's order (weight_ih, weight_hh, bias_ih, bias_hh) and with its names.
      Layer g;
      g.input.weight = register_parameter("gru_weight_ih" + s, uniform({3 * H, in}, H));
      g.hidden.weight = register_parameter("gru_weight_hh" + s, uniform({3 * H, H}, H));
      if (bias) {
        g.input.bias = register_parameter("gru_bias_ih" + s, uniform({3 * H}, H));
        g.hidden.bias = register_parameter("gru_bias_hh" + s, uniform({3 * H}, H));
      }
      // RecBole re-initialises only the first layer's weights (xavier_uniform); `xavier` does every layer.
      if (l == 0 || !recbole) {
        torch::nn::init::xavier_uniform_(g.input.weight);
        torch::nn::init::xavier_uniform_(g.hidden.weight);
      }
      if (bias && !recbole) {
        g.input.bias.zero_();
        g.hidden.bias.zero_();
      }
      layers_.push_back(g);
    }
    dense_.weight = register_parameter("dense_weight", uniform({hidden_, H}, H));
    dense_.bias = register_parameter("dense_bias", uniform({hidden_}, H));
    if (!recbole) {
      torch::nn::init::xavier_normal_(dense_.weight);
      dense_.bias.zero_();
    }
  }

  int64_t hidden_size() const override { return hidden_; }
  int64_t max_len() const override { return max_len_; }

  torch::Tensor forward(const torch::Tensor& items, const torch::Tensor& padding, const FastWeights& w) override {
    if (items.dim() != 3 || items.size(2) != hidden_)
      throw Error("gru4rec: item vectors must be [B, L, " + std::to_string(hidden_) + "], got " +
                  c10::str(items.sizes()));
    auto x = torch::dropout(items, dropout_, is_training());  // RecBole's emb_dropout
    const auto hold = padding.unsqueeze(-1);                   // [B, L, 1]: steps where the state must not move
    for (const auto& g : layers_) x = run_layer(g, x, hold, w);
    return dense_(x, w);
  }

 private:
  struct Layer {
    Linear input, hidden;  // [3H, in] and [3H, H], gates stacked as r, z, n (torch.nn.GRU's layout)
  };

  // One GRU layer over time: x [B, L, in] -> states [B, L, H]. torch.nn.GRU's gates, in few ops per step (the
  // loop dominates the cost): r, z = sigmoid(x W_i{r,z} + h W_h{r,z}), n = tanh(x W_in + r * (h W_hn)),
  // h' = (1 - z) * n + z * h = n + z * (h - n).
  torch::Tensor run_layer(const Layer& g, const torch::Tensor& x, const torch::Tensor& hold,
                          const FastWeights& w) const {
    const int64_t L = x.size(1), H = gru_hidden_;
    const auto gi = g.input(x, w);  // input projections of every step, one matmul: [B, L, 3H]
    const auto gi_rz = gi.narrow(-1, 0, 2 * H), gi_n = gi.narrow(-1, 2 * H, H);
    auto h = torch::zeros({x.size(0), H}, x.options());
    std::vector<torch::Tensor> states;
    states.reserve(static_cast<size_t>(L));
    for (int64_t t = 0; t < L; ++t) {
      const auto gh = g.hidden(h, w);  // [B, 3H]
      const auto rz = torch::sigmoid(gi_rz.select(1, t) + gh.narrow(-1, 0, 2 * H));
      const auto n = torch::tanh(torch::addcmul(gi_n.select(1, t), rz.narrow(-1, 0, H), gh.narrow(-1, 2 * H, H)));
      const auto next = torch::addcmul(n, rz.narrow(-1, H, H), h - n);
      h = torch::where(hold.select(1, t), h, next);  // padding keeps the state (zero before the first item)
      states.push_back(h);
    }
    return torch::stack(states, 1);
  }

  int64_t hidden_, gru_hidden_, max_len_;
  double dropout_;
  std::vector<Layer> layers_;
  Linear dense_;
};

}  // namespace

XREC_PLUGIN("gru4rec", "1.0.0", "GRU4Rec: recurrent session-based recommendation (GRU over item vectors)") {
  using namespace xrec::param;
  registrar.add_backbone(
      "gru4rec",
      "A GRU over item vectors, then a dense layer back to the item-vector size (Hidasi et al., ICLR 2016). "
      "Follows RecBole's GRU4Rec (input dropout 0.3, GRU without biases, xavier_uniform GRU weights).",
      {
          integer("hidden", 64, "Item vector size = output size (RecBole's embedding_size)").range(1, 8192),
          integer("gru_hidden", 128, "GRU state size (RecBole's hidden_size)").range(1, 8192),
          integer("layers", 1, "Stacked GRU layers").range(1, 16),
          real("dropout", 0.3, "Dropout on the input item vectors (RecBole's emb_dropout)").range(0, 1),
          integer("max_len", 50, "Longest history read (the most recent items are kept)").range(1, 4096),
          boolean("bias", false, "GRU biases (RecBole uses nn.GRU(bias=False))"),
          string("init", "recbole",
                 "recbole: xavier_uniform on the first GRU layer's weights, torch defaults elsewhere (as RecBole); "
                 "xavier: xavier_uniform on every GRU weight, xavier_normal on the dense layer, zero biases")
              .one_of({"recbole", "xavier"}),
      },
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<GRU4Rec>(p); });
}
