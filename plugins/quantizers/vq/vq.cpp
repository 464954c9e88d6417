// Quantizer plugin `vq`: one codebook shared by every domain (MetaRec, methods.md section 1). Each item vector
// is replaced by its nearest codeword; the straight-through estimator passes the gradient to the item vector
// unchanged; the loss is the codebook term ||sg(x) - q||^2 plus beta * the commitment term ||x - sg(q)||^2
// (VQ-VAE). Options: EMA codebook updates (the codebook term is then dropped), k-means initialisation from
// the item vectors the host gives, and restarting dead codes from current item vectors.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/quantizer.hpp"
#include "../common/codebook.hpp"

namespace {

using namespace xrec;
using torch::Tensor;
using xrec::quantizers::distances;
using xrec::quantizers::item_rows;

class VectorQuantizer : public Quantizer {
 public:
  explicit VectorQuantizer(const Params& p)
      : size_(p.integer("codebook_size")),
        beta_(p.real("beta")),
        ema_(p.flag("ema")),
        decay_(p.real("decay")),
        init_(p.str("init")),
        kmeans_iterations_(p.integer("kmeans_iterations")),
        restart_every_(p.integer("restart_every")) {}

  // Creates the codebook on first call (its width is the item vectors'), then fills it by k-means over every
  // domain's items (padding rows left out) or by distinct random items.
  void initialize(const QuantizerInit& init) override {
    torch::NoGradGuard no_grad;
    const Tensor x = item_rows(init.item_vectors, "vq");
    const int64_t dim = x.size(1);
    if (!codebook_.defined()) {
      Tensor start = torch::zeros({size_, dim}, x.options());
      codebook_ = ema_ ? register_buffer("codebook", start) : register_parameter("codebook", start);
      if (ema_) {
        ema_count_ = register_buffer("ema_count", torch::ones({size_}, x.options()));
        ema_sum_ = register_buffer("ema_sum", torch::zeros({size_, dim}, x.options()));
      }
    } else if (codebook_.size(1) != dim) {
      throw InputError("quantizer vq: item vectors have width " + std::to_string(dim) + " but the codebook has " +
                       std::to_string(codebook_.size(1)));
    }
    codebook_.copy_(init_ == "kmeans" ? kmeans(x) : sample_rows(x, size_));
    if (ema_) {
      ema_count_.fill_(1);
      ema_sum_.copy_(codebook_);
    }
    used_since_restart_ = torch::zeros({size_}, torch::kLong);
    counts_ = torch::zeros({size_}, torch::kLong);
  }

  Quantized forward(const Tensor& vectors, const FastWeights& w) override {
    if (!codebook_.defined()) throw Error("quantizer vq: forward before initialize()");
    const Tensor codebook = w(codebook_);
    const Tensor x = vectors.slice(0, 1);  // row 0 is padding: it stays zero
    Tensor codes;
    {
      torch::NoGradGuard no_grad;
      codes = distances(x.detach(), codebook.detach()).argmin(1);
    }
    const Tensor q = codebook.index_select(0, codes);
    namespace F = torch::nn::functional;
    Tensor loss = beta_ * F::mse_loss(x, q.detach());
    if (!ema_) loss = loss + F::mse_loss(q, x.detach());
    if (is_training()) update(x.detach(), codes);
    const Tensor out = x + (q - x).detach();  // straight-through: d out / d x = identity
    Quantized r;
    r.vectors = torch::cat({torch::zeros({1, vectors.size(1)}, vectors.options()), out});
    r.codes = torch::cat({torch::zeros({1}, codes.options()), codes}).unsqueeze(1);
    r.loss = loss;
    return r;
  }

  // usage: the share of codewords the last forward assigned to at least one item; perplexity: exp of the
  // entropy of that assignment (size_ when uniform, 1 when every item has the same code).
  MetricMap stats() override {
    if (!counts_.defined() || counts_.sum().item<int64_t>() == 0) return {};
    const Tensor p = counts_.to(torch::kDouble) / counts_.sum().to(torch::kDouble);
    const double entropy = -(p * torch::log(p.clamp_min(1e-12))).sum().item<double>();
    return {{"codebook_usage", (counts_ > 0).sum().item<double>() / static_cast<double>(size_)},
            {"perplexity", std::exp(entropy)},
            {"dead_restarts", static_cast<double>(restarts_)}};
  }

 private:
  void update(const Tensor& x, const Tensor& codes) {
    torch::NoGradGuard no_grad;
    counts_ = torch::bincount(codes.cpu(), {}, size_);
    used_since_restart_ += counts_;
    if (ema_) {
      const Tensor onehot = torch::one_hot(codes, size_).to(x.dtype());
      ema_count_.mul_(decay_).add_(onehot.sum(0), 1 - decay_);
      ema_sum_.mul_(decay_).add_(torch::matmul(onehot.t(), x), 1 - decay_);
      const double n = ema_count_.sum().item<double>(), eps = 1e-5;
      const Tensor smoothed = (ema_count_ + eps) / (n + static_cast<double>(size_) * eps) * n;
      codebook_.copy_(ema_sum_ / smoothed.unsqueeze(1));
    }
    if (restart_every_ > 0 && ++forwards_ % restart_every_ == 0) {
      // Codes no item chose for restart_every forwards are re-seeded from random current item vectors.
      const Tensor dead = (used_since_restart_ == 0).nonzero().flatten();
      if (dead.numel() > 0) {
        const Tensor seeds = sample_rows(x, dead.size(0));
        codebook_.index_copy_(0, dead.to(codebook_.device()), seeds.to(codebook_.dtype()));
        if (ema_) {
          ema_sum_.index_copy_(0, dead.to(codebook_.device()), seeds.to(codebook_.dtype()));
          ema_count_.index_fill_(0, dead.to(codebook_.device()), 1);
        }
        restarts_ += dead.size(0);
      }
      used_since_restart_.zero_();
    }
  }

  // n distinct rows of x (with repetition only when x has fewer rows), plus tiny noise so equal rows differ.
  static Tensor sample_rows(const Tensor& x, int64_t n) {
    const Tensor idx = x.size(0) >= n ? torch::randperm(x.size(0), torch::kLong).slice(0, 0, n)
                                      : torch::randint(x.size(0), {n}, torch::kLong);
    const Tensor rows = x.index_select(0, idx.to(x.device()));
    return rows + 1e-4 * (rows.std().item<double>() + 1e-8) * torch::randn_like(rows);
  }

  // Lloyd's k-means from random distinct items; an emptied cluster takes a random item.
  Tensor kmeans(const Tensor& x) const {
    Tensor centers = sample_rows(x, size_);
    for (int64_t it = 0; it < kmeans_iterations_; ++it) {
      const Tensor assign = distances(x, centers).argmin(1);
      const Tensor onehot = torch::one_hot(assign, size_).to(x.dtype());
      const Tensor counts = onehot.sum(0);
      const Tensor sums = torch::matmul(onehot.t(), x);
      const Tensor empty = counts.eq(0);
      centers = torch::where(empty.unsqueeze(1), sample_rows(x, size_), sums / counts.clamp_min(1).unsqueeze(1));
    }
    return centers;
  }

  int64_t size_;
  double beta_;
  bool ema_;
  double decay_;
  std::string init_;
  int64_t kmeans_iterations_, restart_every_;
  Tensor codebook_, ema_count_, ema_sum_;
  Tensor counts_, used_since_restart_;
  int64_t forwards_ = 0, restarts_ = 0;
};

}  // namespace

XREC_PLUGIN("vq", "1.0.0", "Vector quantization: one codebook shared by every domain") {
  using namespace xrec;
  registrar.add_quantizer(
      "vq",
      "Replaces each item vector by its nearest codeword of one codebook shared by every domain (straight-through "
      "gradient); adds codebook + beta * commitment loss; records codebook usage and perplexity per epoch.",
      {param::integer("codebook_size", 256, "Number of codewords K").range(2, 1 << 20),
       param::real("beta", 0.25, "Weight of the commitment term ||x - sg(q)||^2").at_least(0),
       param::boolean("ema", false, "Update the codebook by exponential moving averages of its assigned vectors "
                                    "(no codebook loss term, no gradient to the codebook)"),
       param::real("decay", 0.99, "EMA decay").range(0, 1),
       param::string("init", "kmeans", "Codebook initialisation from the item vectors the host gives: k-means or "
                                       "random distinct items")
           .one_of({"kmeans", "random"}),
       param::integer("kmeans_iterations", 10, "Lloyd iterations of the k-means initialisation").range(0, 1000),
       param::integer("restart_every", 0, "Every N training forwards, codewords no item chose in those N are "
                                          "re-seeded from random item vectors (0 = never)")
           .at_least(0)},
      [](const Params& p, const PluginContext&) { return std::make_shared<VectorQuantizer>(p); });
}
