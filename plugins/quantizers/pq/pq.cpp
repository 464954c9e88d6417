// Quantizer plugin `pq`: product quantization. Item vectors [N, D] are split into `subspaces` sub-vectors of
// D / subspaces, each quantized by its own codebook (shared by every domain); the output concatenates the
// chosen sub-codewords (straight-through), the loss is codebook + beta * commitment over all sub-vectors.
//
// `codes: fixed` is VQ-Rec's use (Hou et al., WWW 2023): in initialize() each item gets one code per sub-space
// from the domain's dense item feature (e.g. a text embedding): k-means per sub-space fitted only on items seen
// in training (every domain's, pooled), then every item (also unseen ones) takes its nearest centroid. The codes
// never change; what is learned is one embedding of the model's width per (sub-space, code), and an item's
// vector is the mean of its codes' embeddings. The item encoder's vectors are then not used.
#include <torch/torch.h>

#include <set>
#include <string>

#include "../common/codebook.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/quantizer.hpp"

namespace {

using namespace xrec;
using namespace xrec::quantizers;
using torch::Tensor;

class ProductQuantizer : public Quantizer {
 public:
  explicit ProductQuantizer(const Params& p)
      : subspaces_(p.integer("subspaces")),
        size_(p.integer("codebook_size")),
        beta_(p.real("beta")),
        init_(p.str("init")),
        kmeans_iterations_(p.integer("kmeans_iterations")),
        fixed_(p.str("codes") == "fixed"),
        feature_(p.str("feature")),
        init_std_(p.real("init_std")) {}

  void initialize(const QuantizerInit& init) override {
    torch::NoGradGuard no_grad;
    if (init.item_vectors.empty()) throw InputError("quantizer pq: the model has no domains to initialise from");
    if (fixed_)
      initialize_fixed(init);
    else
      initialize_learned(init);
  }

  Quantized forward(const Tensor& vectors, const FastWeights& w) override {
    if (fixed_ && domain_codes_.size() != 1)
      throw Error("quantizer pq (codes: fixed): forward without a domain on a model of " +
                  std::to_string(domain_codes_.size()) + " domains; the host calls forward_domain");
    return forward_domain(0, vectors, w);
  }

  Quantized forward_domain(int64_t domain, const Tensor& vectors, const FastWeights& w) override {
    return fixed_ ? forward_fixed(domain, vectors, w) : forward_learned(vectors, w);
  }

  // Usage and perplexity of the last training forward's codes, averaged over sub-spaces (`codebook_usage`,
  // `perplexity`); then reset.
  MetricMap stats() override {
    if (!last_codes_.defined()) return {};
    double usage = 0, perplexity = 0;
    for (int64_t m = 0; m < subspaces_; ++m) {
      auto [u, p] = usage_and_perplexity(last_codes_.select(1, m), size_);
      usage += u, perplexity += p;
    }
    last_codes_ = Tensor();
    return {{"codebook_usage", usage / static_cast<double>(subspaces_)},
            {"perplexity", perplexity / static_cast<double>(subspaces_)}};
  }

 private:
  // Learned codes: codebooks [subspaces, K, D / subspaces], k-means per sub-space over every domain's items.
  void initialize_learned(const QuantizerInit& init) {
    const Tensor x = item_rows(init.item_vectors, "pq");
    const int64_t dim = x.size(1);
    if (dim % subspaces_ != 0)
      throw InputError("quantizer pq: item vectors of width " + std::to_string(dim) + " do not split into " +
                       std::to_string(subspaces_) + " equal sub-vectors; choose subspaces dividing " +
                       std::to_string(dim));
    const int64_t sub = dim / subspaces_;
    if (!codebooks_.defined())
      codebooks_ = register_parameter("codebooks", torch::zeros({subspaces_, size_, sub}, x.options()));
    else if (codebooks_.size(2) != sub)
      throw InputError("quantizer pq: item vectors have width " + std::to_string(dim) +
                       " but the codebooks were made for " + std::to_string(codebooks_.size(2) * subspaces_));
    const auto parts = x.split(sub, 1);
    for (int64_t m = 0; m < subspaces_; ++m)
      codebooks_[m].copy_(init_ == "kmeans" ? kmeans(parts[m].contiguous(), size_, kmeans_iterations_)
                                            : sample_rows(parts[m].contiguous(), size_));
  }

  Quantized forward_learned(const Tensor& vectors, const FastWeights& w) {
    if (!codebooks_.defined()) throw Error("quantizer pq: forward before initialize()");
    const Tensor codebooks = w(codebooks_);  // [M, K, d]
    const Tensor x = vectors.slice(0, 1);
    const int64_t n = x.size(0), sub = codebooks.size(2);
    const Tensor xs = x.reshape({n, subspaces_, sub}).transpose(0, 1);  // [M, N, d]
    Tensor codes;                                                        // [N, M]
    {
      torch::NoGradGuard no_grad;
      const Tensor xd = xs.detach(), cd = codebooks.detach();
      const Tensor dist = xd.pow(2).sum(2, true) - 2 * torch::bmm(xd, cd.transpose(1, 2)) + cd.pow(2).sum(2).unsqueeze(1);
      codes = dist.argmin(2).t().contiguous();
    }
    // Row m * K + code of the flattened codebooks, per item and sub-space, back in [N, D] order.
    const Tensor offsets = torch::arange(subspaces_, codes.options()) * size_;
    const Tensor q = codebooks.reshape({subspaces_ * size_, sub}).index_select(0, (codes + offsets).flatten()).reshape({n, -1});
    namespace F = torch::nn::functional;
    const Tensor loss = F::mse_loss(q, x.detach()) + beta_ * F::mse_loss(x, q.detach());
    if (is_training()) last_codes_ = codes;
    Quantized r;
    r.vectors = torch::cat({torch::zeros({1, vectors.size(1)}, vectors.options()), x + (q - x).detach()});
    r.codes = torch::cat({torch::zeros({1, subspaces_}, codes.options()), codes});
    r.loss = loss;
    return r;
  }

  // The domain's dense item feature the codes come from: the one named `feature`, or the first.
  const DenseFeature& feature_of(const ItemDomain& d) const {
    const std::string hint =
        "; codes: fixed needs dense item features (a dataset with item text vectors or built features), or use "
        "codes: learned";
    if (!d.data || d.data->item_features.empty())
      throw InputError("quantizer pq (codes: fixed): domain '" + d.name + "' has no dense item features" + hint);
    for (const auto& f : d.data->item_features)
      if (feature_.empty() || f.name == feature_) return f;
    std::string names;
    for (const auto& f : d.data->item_features) names += (names.empty() ? "" : ", ") + f.name;
    throw InputError("quantizer pq (codes: fixed): domain '" + d.name + "' has no dense item feature '" + feature_ +
                     "' (it has: " + names + ")");
  }

  void initialize_fixed(const QuantizerInit& init) {
    if (init.domains.size() != init.item_vectors.size())
      throw Error("quantizer pq: QuantizerInit has " + std::to_string(init.domains.size()) + " domains but " +
                  std::to_string(init.item_vectors.size()) + " item tables");
    const int64_t width = init.item_vectors[0].size(1);
    // Every domain's feature matrix [num_items + 1, F], and the rows of items seen in training.
    std::vector<Tensor> features, train_rows;
    int64_t fdim = -1;
    for (const auto& d : init.domains) {
      const DenseFeature& f = feature_of(d);
      if (f.dim < subspaces_)
        throw InputError("quantizer pq (codes: fixed): item feature '" + f.name + "' of domain '" + d.name +
                         "' has " + std::to_string(f.dim) + " dimensions, fewer than subspaces = " +
                         std::to_string(subspaces_));
      if (fdim >= 0 && f.dim != fdim)
        throw InputError("quantizer pq (codes: fixed): item feature '" + f.name + "' of domain '" + d.name + "' has " +
                         std::to_string(f.dim) + " dimensions, another domain's has " + std::to_string(fdim) +
                         " (one codebook per sub-space is shared by every domain)");
      fdim = f.dim;
      if (static_cast<int64_t>(f.values.size()) != (d.num_items + 1) * f.dim)
        throw InputError("quantizer pq (codes: fixed): item feature '" + f.name + "' of domain '" + d.name +
                         "' has " + std::to_string(f.values.size()) + " values, expected (items + 1) x dim = " +
                         std::to_string((d.num_items + 1) * f.dim));
      Tensor t = torch::from_blob(const_cast<float*>(f.values.data()), {d.num_items + 1, f.dim}, torch::kFloat).clone();
      // Items seen in training; without a split (bare models in tests) every item.
      std::set<int64_t> seen;
      if (d.train) {
        for (const auto& s : *d.train)
          for (int64_t i : s)
            if (i > 0 && i <= d.num_items) seen.insert(i);
      } else {
        for (int64_t i = 1; i <= d.num_items; ++i) seen.insert(i);
      }
      if (!seen.empty())
        train_rows.push_back(t.index_select(0, torch::tensor(std::vector<int64_t>(seen.begin(), seen.end()))));
      features.push_back(t);
    }
    if (train_rows.empty())
      throw InputError("quantizer pq (codes: fixed): no domain has items seen in training to fit the codes on");
    const Tensor fit = torch::cat(train_rows);
    // Sub-spaces of near-equal width (the feature need not divide evenly): k-means per sub-space.
    std::vector<Tensor> centroids;
    const auto parts = fit.tensor_split(subspaces_, 1);
    for (int64_t m = 0; m < subspaces_; ++m) centroids.push_back(kmeans(parts[m].contiguous(), size_, kmeans_iterations_));
    domain_codes_.clear();
    for (size_t d = 0; d < features.size(); ++d) {
      const auto fparts = features[d].tensor_split(subspaces_, 1);
      std::vector<Tensor> codes;
      for (int64_t m = 0; m < subspaces_; ++m) codes.push_back(distances(fparts[m].contiguous(), centroids[m]).argmin(1));
      Tensor c = torch::stack(codes, 1);  // [num_items + 1, M]; row 0 (padding) unused
      const std::string name = "codes_" + std::to_string(d);
      // Buffers, so checkpoints carry the codes; a repeated initialize() refits them.
      auto buffers = named_buffers(false);
      if (auto* b = buffers.find(name)) {
        b->set_data(c);
        domain_codes_.push_back(*b);
      } else {
        domain_codes_.push_back(register_buffer(name, c));
      }
    }
    if (!embeddings_.defined())
      embeddings_ = register_parameter("code_embeddings", torch::randn({subspaces_, size_, width}) * init_std_);
    else if (embeddings_.size(2) != width)
      throw InputError("quantizer pq: item vectors have width " + std::to_string(width) +
                       " but the code embeddings were made for " + std::to_string(embeddings_.size(2)));
  }

  Quantized forward_fixed(int64_t domain, const Tensor& vectors, const FastWeights& w) {
    if (!embeddings_.defined()) throw Error("quantizer pq: forward before initialize()");
    if (domain < 0 || domain >= static_cast<int64_t>(domain_codes_.size()))
      throw Error("quantizer pq: no codes for model domain " + std::to_string(domain));
    // The registered buffer's handle: it follows the module to a device and a loaded checkpoint.
    const Tensor codes = domain_codes_[domain].slice(0, 1);  // [N, M]
    if (codes.size(0) + 1 != vectors.size(0))
      throw Error("quantizer pq: domain " + std::to_string(domain) + " has " + std::to_string(codes.size(0)) +
                  " coded items but the encoder gave " + std::to_string(vectors.size(0) - 1));
    const Tensor emb = w(embeddings_);  // [M, K, width]
    const Tensor offsets = torch::arange(subspaces_, codes.options()) * size_;
    const Tensor e = emb.reshape({subspaces_ * size_, emb.size(2)}).index_select(0, (codes + offsets).flatten());
    const Tensor items = e.reshape({codes.size(0), subspaces_, emb.size(2)}).mean(1);
    if (is_training()) last_codes_ = codes;
    Quantized r;
    r.vectors = torch::cat({torch::zeros({1, items.size(1)}, items.options()), items});
    r.codes = torch::cat({torch::zeros({1, subspaces_}, codes.options()), codes});
    r.loss = torch::zeros({}, items.options());
    return r;
  }

  int64_t subspaces_, size_;
  double beta_;
  std::string init_;
  int64_t kmeans_iterations_;
  bool fixed_;
  std::string feature_;
  double init_std_;
  Tensor codebooks_, embeddings_, last_codes_;
  std::vector<Tensor> domain_codes_;
};

}  // namespace

XREC_PLUGIN("pq", "1.0.0", "Product quantization: sub-vectors, one codebook each; VQ-Rec's fixed codes") {
  using namespace xrec;
  registrar.add_quantizer(
      "pq",
      "Product quantization: item vectors split into `subspaces` sub-vectors, each replaced by its nearest codeword "
      "of its own codebook (shared by every domain; straight-through gradient; codebook + beta * commitment loss). "
      "codes: fixed is VQ-Rec: codes assigned once from the items' dense features (k-means per sub-space on training "
      "items), code embeddings learned.",
      {param::integer("subspaces", 4, "Number of sub-vectors M (learned codes: must divide the item vector width)")
           .range(1, 4096),
       param::integer("codebook_size", 256, "Codewords per sub-space K").range(2, 1 << 20),
       param::string("codes", "learned", "learned: quantize the item encoder's vectors; fixed: VQ-Rec codes from "
                                         "the domains' dense item features, only the code embeddings learned")
           .one_of({"learned", "fixed"}),
       param::real("beta", 0.25, "learned: weight of the commitment term ||x - sg(q)||^2").at_least(0),
       param::string("init", "kmeans", "learned: codebook initialisation from the item vectors the host gives, per "
                                       "sub-space: k-means or random distinct items")
           .one_of({"kmeans", "random"}),
       param::integer("kmeans_iterations", 10, "Lloyd iterations of each k-means (both modes)").range(0, 1000),
       param::string("feature", "", "fixed: name of the dense item feature the codes come from (empty = the "
                                    "domain's first)"),
       param::real("init_std", 0.02, "fixed: standard deviation of the code embeddings' normal initialisation")
           .at_least(0)},
      [](const Params& p, const PluginContext&) { return std::make_shared<ProductQuantizer>(p); });
}
