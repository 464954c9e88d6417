// Quantizer plugin `rvq`: residual vector quantization (RQ-VAE style) with `levels` stages, each its own
// codebook shared by every domain. Level 1 quantizes the item vector, level l the residual left by levels
// 1..l-1; the output is the sum of the chosen codewords, passed straight-through to the item vector. The loss
// sums each level's codebook term ||sg(r_l) - q_l||^2 and beta * commitment term ||r_l - sg(q_l)||^2.
#include <torch/torch.h>

#include <string>

#include "../common/codebook.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/quantizer.hpp"

namespace {

using namespace xrec;
using namespace xrec::quantizers;
using torch::Tensor;

class ResidualQuantizer : public Quantizer {
 public:
  explicit ResidualQuantizer(const Params& p)
      : levels_(p.integer("levels")),
        size_(p.integer("codebook_size")),
        beta_(p.real("beta")),
        init_(p.str("init")),
        kmeans_iterations_(p.integer("kmeans_iterations")) {}

  // Creates the codebooks [levels, K, D] on first call, then fills them level by level: k-means (or random
  // distinct rows) over the residuals the previous levels leave on every domain's items (padding left out).
  void initialize(const QuantizerInit& init) override {
    torch::NoGradGuard no_grad;
    Tensor r = item_rows(init.item_vectors, "rvq");
    const int64_t dim = r.size(1);
    if (!codebooks_.defined()) {
      codebooks_ = register_parameter("codebooks", torch::zeros({levels_, size_, dim}, r.options()));
    } else if (codebooks_.size(2) != dim) {
      throw InputError("quantizer rvq: item vectors have width " + std::to_string(dim) + " but the codebooks have " +
                       std::to_string(codebooks_.size(2)));
    }
    for (int64_t l = 0; l < levels_; ++l) {
      const Tensor c = init_ == "kmeans" ? kmeans(r, size_, kmeans_iterations_) : sample_rows(r, size_);
      codebooks_[l].copy_(c);
      r = r - c.index_select(0, distances(r, c).argmin(1));
    }
    last_codes_ = Tensor();
  }

  Quantized forward(const Tensor& vectors, const FastWeights& w) override {
    if (!codebooks_.defined()) throw Error("quantizer rvq: forward before initialize()");
    const Tensor codebooks = w(codebooks_);
    const Tensor x = vectors.slice(0, 1);  // row 0 is padding: it stays zero
    namespace F = torch::nn::functional;
    Tensor residual = x, sum = torch::zeros_like(x), loss = torch::zeros({}, x.options());
    std::vector<Tensor> codes;
    for (int64_t l = 0; l < levels_; ++l) {
      const Tensor cb = codebooks[l];
      Tensor c;
      {
        torch::NoGradGuard no_grad;
        c = distances(residual.detach(), cb.detach()).argmin(1);
      }
      const Tensor q = cb.index_select(0, c);
      loss = loss + F::mse_loss(q, residual.detach()) + beta_ * F::mse_loss(residual, q.detach());
      sum = sum + q;
      // The next level sees the residual with this level's codeword as a constant: each level's terms train
      // its own codebook (and commit the input), as in residual VQ implementations.
      residual = residual - q.detach();
      codes.push_back(c);
    }
    const Tensor all = torch::stack(codes, 1);  // [N, levels]
    if (is_training()) last_codes_ = all.detach();
    Quantized r;
    const Tensor out = x + (sum - x).detach();  // straight-through
    r.vectors = torch::cat({torch::zeros({1, vectors.size(1)}, vectors.options()), out});
    r.codes = torch::cat({torch::zeros({1, levels_}, all.options()), all});
    r.loss = loss;
    return r;
  }

  // Per level `level<l>/codebook_usage` and `level<l>/perplexity` of the last training forward, and their means
  // over levels as `codebook_usage` and `perplexity`; then reset.
  MetricMap stats() override {
    if (!last_codes_.defined()) return {};
    MetricMap m;
    double usage = 0, perplexity = 0;
    for (int64_t l = 0; l < levels_; ++l) {
      auto [u, p] = usage_and_perplexity(last_codes_.select(1, l), size_);
      m["level" + std::to_string(l + 1) + "/codebook_usage"] = u;
      m["level" + std::to_string(l + 1) + "/perplexity"] = p;
      usage += u, perplexity += p;
    }
    m["codebook_usage"] = usage / static_cast<double>(levels_);
    m["perplexity"] = perplexity / static_cast<double>(levels_);
    last_codes_ = Tensor();
    return m;
  }

 private:
  int64_t levels_, size_;
  double beta_;
  std::string init_;
  int64_t kmeans_iterations_;
  Tensor codebooks_, last_codes_;
};

}  // namespace

XREC_PLUGIN("rvq", "1.0.0", "Residual vector quantization: several codebooks, each quantizing the last residual") {
  using namespace xrec;
  registrar.add_quantizer(
      "rvq",
      "Residual VQ: `levels` codebooks shared by every domain, each quantizing what the previous levels left; the "
      "item vector becomes the sum of the chosen codewords (straight-through gradient); adds each level's codebook + "
      "beta * commitment loss; records usage and perplexity per level per epoch.",
      {param::integer("levels", 2, "Number of residual stages, each its own codebook").range(1, 64),
       param::integer("codebook_size", 256, "Codewords per level").range(2, 1 << 20),
       param::real("beta", 0.25, "Weight of each level's commitment term ||r - sg(q)||^2").at_least(0),
       param::string("init", "kmeans", "Codebook initialisation from the item vectors the host gives, level by "
                                       "level on the residuals: k-means or random distinct items")
           .one_of({"kmeans", "random"}),
       param::integer("kmeans_iterations", 10, "Lloyd iterations of the k-means initialisation").range(0, 1000)},
      [](const Params& p, const PluginContext&) { return std::make_shared<ResidualQuantizer>(p); });
}
