// Item encoder plugin: ANT's modality encoder (Peng, Parthasarathy, Ning, "Multi-modality Meets Re-learning",
// arXiv 2309.10195; public code ninglab/ANT). Items have no free vector: each configured modality (a dense item
// feature of the domain: text, attributes, numeric:<field>, vectors) passes through its own adapter, a mixture
// of experts with a noisy softmax gate; the item vector is the sum of its modality vectors plus beta * (a ⊙ b)
// for one configured pair. The adapters are shared by every domain the model is bound to (that is what
// transfers). Every parameter is read through FastWeights. Parameter names (stable; stage policies freeze and
// re-initialise them by glob):
//   adapters.<modality>.experts.weight  [E * D, in]  expert maps (expert e: rows e*D .. e*D + D - 1)
//   adapters.<modality>.experts.bias    [E * in]     whitening: the subtracted bias b; linear: [E * D] output bias
//   adapters.<modality>.gate.w_gate     [in * E]     W_g [in, E] (zero-initialised)
//   adapters.<modality>.gate.w_noise    [in * E]     W_n [in, E] (zero-initialised)
// Shapes are chosen for the host's `reinit` rule (matrices Xavier-normal, 1-d `*weight` ones, other 1-d zeros):
// re-initialised gates and biases are zero as in ANT's re-learning, and an expert map is Xavier-drawn over
// its fans (in, E * D).
// <modality> is the feature name with every character outside [A-Za-z0-9_] replaced by '_' (numeric:price ->
// numeric_price).
// A linear adapter over a sparse feature (multi-hot attributes: a few ones among hundreds of columns) reads it
// as rows of (column, value) pairs through embedding bags: W dropout(x) is the sum of W's columns at x's
// nonzeros, dropout keeps or drops each nonzero (a zero stays zero either way), so the math is the dense
// path's with the work of the nonzeros only. Full-softmax training encodes every item each step, which made
// the dense path the bulk of an epoch on Beauty's attributes.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/api/item_encoder.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

std::string param_name(const std::string& modality) {
  std::string out = modality;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return out;
}

// The data section key that produces a feature of this name (for messages).
std::string producing_key(const std::string& feature) {
  if (feature == "text") return "text_features: D";
  if (feature == "attributes") return "attribute_features: true";
  if (feature.rfind("numeric:", 0) == 0) return "numeric_features: bucket | sinusoidal";
  if (feature == "vectors") return "vector_file: PATH";
  return "a dataset plugin that delivers it";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

struct AntOptions {
  std::vector<std::string> modalities, whiten, fusion, cross_modal;
  int64_t experts = 8;
  double dropout = 0.2, fusion_weight = 0.1, cross_modal_weight = 1e-3, cross_modal_temperature = 0.07;
  double init_std = 0.02;
  bool noise = true;
  std::string sparse_inputs = "auto";  // auto | always | never (see kSparseDensity)
};

// `sparse_inputs: auto` reads a linear modality sparsely when at most this share of its values is nonzero.
constexpr double kSparseDensity = 0.05;

AntOptions ant_options(const Params& p) {
  AntOptions o;
  o.modalities = p.str_list("modalities");
  o.whiten = p.str_list("whiten");
  o.fusion = p.str_list("fusion");
  o.cross_modal = p.str_list("cross_modal");
  o.experts = p.integer("experts");
  o.dropout = p.real("dropout");
  o.fusion_weight = p.real("fusion_weight");
  o.cross_modal_weight = p.real("cross_modal_weight");
  o.cross_modal_temperature = p.real("cross_modal_temperature");
  o.init_std = p.real("init_std");
  o.noise = p.flag("noise");
  o.sparse_inputs = p.str("sparse_inputs");
  const std::string where = "item_encoder ant: ";
  if (o.modalities.empty())
    throw InputError(where + "modalities is empty; name the item features to encode, e.g. [text, attributes] "
                     "(made by the data section's text_features / attribute_features / numeric_features / vector_file)");
  std::set<std::string> seen, names;
  for (auto& m : o.modalities) {
    if (!seen.insert(m).second) throw InputError(where + "modality '" + m + "' is named twice in modalities");
    if (!names.insert(param_name(m)).second)
      throw InputError(where + "modality '" + m + "' has the same parameter name '" + param_name(m) +
                       "' as another modality");
  }
  auto check_pair = [&](const std::vector<std::string>& pair, const std::string& key) {
    if (pair.empty()) return;
    if (pair.size() != 2 || pair[0] == pair[1])
      throw InputError(where + key + " must name two different modalities (or be empty), got [" + join(pair) + "]");
    for (auto& m : pair)
      if (!seen.count(m))
        throw InputError(where + key + " names '" + m + "', which is not in modalities [" + join(o.modalities) + "]");
  };
  check_pair(o.fusion, "fusion");
  check_pair(o.cross_modal, "cross_modal");
  return o;
}

// Rows of a sparse feature (CSR): row r's nonzeros are columns[ptr[r] .. ptr[r + 1]) with their values.
struct SparseRows {
  torch::Tensor ptr, columns, values;  // [rows + 1] long, [nnz] long, [nnz] float

  static SparseRows of(const torch::Tensor& dense) {
    auto nz = dense.nonzero();  // row-major order: grouped by row
    auto counts = dense.ne(0).sum(1);
    return {torch::cat({torch::zeros({1}, torch::kLong), counts.cumsum(0)}), nz.select(1, 1).contiguous(),
            dense.index({nz.select(1, 0), nz.select(1, 1)}).contiguous()};
  }
  // The rows `ids` (long, on the CPU), in that order.
  SparseRows take(const torch::Tensor& ids) const {
    auto p = ptr.to(torch::kCPU), cpu_ids = ids.to(torch::kCPU);
    auto pa = p.accessor<int64_t, 1>();
    auto ia = cpu_ids.accessor<int64_t, 1>();
    std::vector<int64_t> out_ptr{0}, positions;
    for (int64_t i = 0; i < cpu_ids.size(0); ++i) {
      for (int64_t k = pa[ia[i]]; k < pa[ia[i] + 1]; ++k) positions.push_back(k);
      out_ptr.push_back(static_cast<int64_t>(positions.size()));
    }
    auto at = torch::tensor(positions, torch::kLong).to(columns.device());
    return {torch::tensor(out_ptr, torch::kLong).to(columns.device()), columns.index({at}), values.index({at})};
  }
  SparseRows to(torch::Device d) const { return {ptr.to(d), columns.to(d), values.to(d)}; }
  torch::Device device() const { return columns.device(); }
};

// One modality's adapter: E experts and the gate, plus the feature matrices of each bound domain.
struct Adapter {
  std::string name;  // the feature name
  bool whiten = false, sparse = false;
  int64_t in = 0, dim = 0;
  torch::Tensor weight, bias, gate, noise;  // parameters (see the file comment)
  std::vector<torch::Tensor> features;      // per domain [N + 1, in] (zero-padded to `in` for a linear map); dense
  std::vector<SparseRows> rows;             // per domain, the same rows as CSR; sparse
  std::vector<torch::Tensor> present;       // per domain [N + 1] bool: the item has this modality (row 0: no)
};

class AntEncoder : public ItemEncoder {
 public:
  explicit AntEncoder(AntOptions o) : o_(std::move(o)) {}

  void bind(const std::vector<ItemDomain>& domains, int64_t dim) override {
    if (!adapters_.empty()) throw Error("item encoder ant: bound twice");
    if (domains.empty()) throw InputError("item encoder ant: the model has no domain");
    adapters_.resize(o_.modalities.size());
    for (size_t m = 0; m < o_.modalities.size(); ++m) {
      Adapter& a = adapters_[m];
      a.name = o_.modalities[m];
      a.whiten = std::find(o_.whiten.begin(), o_.whiten.end(), a.name) != o_.whiten.end();
      std::vector<const DenseFeature*> found;
      for (auto& d : domains) found.push_back(&feature_of(d, a.name));
      for (size_t d = 0; d < domains.size(); ++d) a.in = std::max(a.in, found[d]->dim);
      for (size_t d = 0; d < domains.size(); ++d) {
        if (a.whiten && found[d]->dim != a.in)
          throw InputError("item encoder ant: modality '" + a.name + "' is " + std::to_string(found[d]->dim) +
                           " wide in dataset '" + domains[d].name + "' but " + std::to_string(a.in) +
                           " wide in another domain; a whitening adapter is shared by all domains and needs one "
                           "width (give every data section the same setting, e.g. text_features)");
        auto x = torch::from_blob(const_cast<float*>(found[d]->values.data()),
                                  {domains[d].num_items + 1, found[d]->dim}, torch::kFloat)
                     .clone();
        // A linear map's extra input columns are zero for a narrower domain: they add nothing to its items.
        if (found[d]->dim < a.in)
          x = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({0, a.in - found[d]->dim}));
        auto present = x.ne(0).any(1);
        present[0] = false;
        a.features.push_back(x);
        a.present.push_back(present);
      }
      a.sparse = read_sparsely(a);
      if (a.sparse) {
        for (auto& x : a.features) a.rows.push_back(SparseRows::of(x));
        a.features.clear();
      }
      // Draws in modality order: expert maps normal(0, init_std); biases and the gate start at zero (ANT).
      auto module = std::make_shared<torch::nn::Module>();
      auto experts = std::make_shared<torch::nn::Module>();
      auto gate = std::make_shared<torch::nn::Module>();
      a.weight = experts->register_parameter("weight", torch::randn({o_.experts * dim, a.in}) * o_.init_std);
      a.bias = experts->register_parameter("bias", torch::zeros({o_.experts * (a.whiten ? a.in : dim)}));
      a.gate = gate->register_parameter("w_gate", torch::zeros({a.in * o_.experts}));
      a.noise = gate->register_parameter("w_noise", torch::zeros({a.in * o_.experts}));
      a.dim = dim;
      module->register_module("experts", experts);
      module->register_module("gate", gate);
      modules_.push_back(module);
    }
    auto adapters = std::make_shared<torch::nn::Module>();
    for (size_t m = 0; m < adapters_.size(); ++m) adapters->register_module(param_name(adapters_[m].name), modules_[m]);
    register_module("adapters", adapters);
    num_domains_ = static_cast<int64_t>(domains.size());
    for (size_t m = 0; m < o_.modalities.size(); ++m) {
      if (!o_.fusion.empty() && o_.modalities[m] == o_.fusion[0]) fusion_[0] = static_cast<int64_t>(m);
      if (!o_.fusion.empty() && o_.modalities[m] == o_.fusion[1]) fusion_[1] = static_cast<int64_t>(m);
      if (!o_.cross_modal.empty() && o_.modalities[m] == o_.cross_modal[0]) cross_[0] = static_cast<int64_t>(m);
      if (!o_.cross_modal.empty() && o_.modalities[m] == o_.cross_modal[1]) cross_[1] = static_cast<int64_t>(m);
    }
  }

  torch::Tensor forward(int64_t domain, const FastWeights& w) override {
    check_domain(domain);
    std::vector<torch::Tensor> vectors(adapters_.size()), present(adapters_.size());
    torch::Tensor out;
    for (size_t m = 0; m < adapters_.size(); ++m) {
      vectors[m] = adapters_[m].sparse ? adapt_sparse(adapters_[m], sparse_rows(m, domain), w)
                                       : adapt(adapters_[m], features(m, domain), w);
      present[m] = mask(m, domain);
      // A missing modality is masked: its adapter output (the map of a zero row) never enters the item vector.
      auto v = vectors[m] * present[m].unsqueeze(1).to(vectors[m].dtype());
      out = out.defined() ? out + v : v;
    }
    if (fusion_[0] >= 0) {
      const auto a = static_cast<size_t>(fusion_[0]), b = static_cast<size_t>(fusion_[1]);
      auto both = present[a].logical_and(present[b]).unsqueeze(1).to(out.dtype());
      out = out + o_.fusion_weight * vectors[a] * vectors[b] * both;
    }
    return out;  // row 0: no modality present, all zeros
  }

  // lambda x InfoNCE between the two cross_modal modalities over the batch's distinct items that have both:
  // item i's vector of modality a against every such item's vector of modality b (cosine / temperature).
  torch::Tensor auxiliary_loss(int64_t domain, const torch::Tensor& items, const FastWeights& w) override {
    if (cross_[0] < 0 || o_.cross_modal_weight == 0) return {};
    check_domain(domain);
    const auto a = static_cast<size_t>(cross_[0]), b = static_cast<size_t>(cross_[1]);
    auto ids = std::get<0>(torch::_unique(items.to(torch::kLong), /*sorted=*/true));
    ids = ids.to(mask(a, domain).device());
    ids = ids.index({mask(a, domain).index({ids}).logical_and(mask(b, domain).index({ids}))});
    const auto& wa = w(adapters_[a].weight);
    if (ids.size(0) == 0) return torch::zeros({}, wa.options());
    namespace F = torch::nn::functional;
    const auto unit = F::NormalizeFuncOptions().dim(-1);
    auto va = F::normalize(adapt_rows(a, domain, ids, w), unit);
    auto vb = F::normalize(adapt_rows(b, domain, ids, w), unit);
    auto logits = torch::matmul(va, vb.t()) / o_.cross_modal_temperature;
    auto labels = torch::arange(ids.size(0), torch::TensorOptions().dtype(torch::kLong).device(logits.device()));
    return o_.cross_modal_weight * F::cross_entropy(logits, labels);
  }

 private:
  const DenseFeature& feature_of(const ItemDomain& d, const std::string& name) const {
    const std::string where = "item encoder ant, dataset '" + d.name + "'";
    if (!d.data)
      throw InputError(where + ": the encoder reads item features, but the domain has no data (a bare model)");
    const DomainData& data = *d.data;
    std::vector<std::string> have;
    const DenseFeature* f = nullptr;
    for (auto& x : data.item_features) {
      have.push_back(x.name);
      if (x.name == name) f = &x;
    }
    if (!f)
      throw InputError(where + ": modality '" + name + "' is not among the dataset's item features [" + join(have) +
                       "]; it is made by the data section's " + producing_key(name) +
                       " (or remove it from item_encoder.modalities)");
    const int64_t rows = d.num_items + 1;
    const std::string file = data.source_files.empty() ? "" : " (files: " + join(data.source_files) + ")";
    if (f->dim <= 0 || static_cast<int64_t>(f->values.size()) != rows * f->dim)
      throw InputError(where + file + ": item feature '" + name + "' has " + std::to_string(f->values.size()) +
                       " values of width " + std::to_string(f->dim) + ", expected " + std::to_string(rows) +
                       " rows (the " + std::to_string(d.num_items) + " items + padding) of a width > 0");
    for (int64_t r = 1; r < rows; ++r)
      for (int64_t c = 0; c < f->dim; ++c)
        if (!std::isfinite(f->values[static_cast<size_t>(r * f->dim + c)])) {
          const std::string item = static_cast<size_t>(r) < data.item_ids.size() && !data.item_ids[r].empty()
                                       ? "'" + data.item_ids[static_cast<size_t>(r)] + "' (item " + std::to_string(r) + ")"
                                       : "item " + std::to_string(r);
          throw InputError(where + file + ": item feature '" + name + "' of " + item + ", column " +
                           std::to_string(c) + " is " + std::to_string(f->values[static_cast<size_t>(r * f->dim + c)]) +
                           "; features must be finite");
        }
    return *f;
  }

  bool read_sparsely(const Adapter& a) const {
    if (o_.sparse_inputs == "never") return false;
    if (a.whiten) return false;  // a whitening expert reads x - b: dense whatever the feature
    if (o_.sparse_inputs == "always") return true;
    double nonzero = 0, total = 0;
    for (auto& x : a.features) {
      nonzero += x.ne(0).sum().item<double>();
      total += static_cast<double>(x.numel());
    }
    return total > 0 && nonzero <= kSparseDensity * total;
  }

  void check_domain(int64_t domain) const {
    if (domain < 0 || domain >= num_domains_)
      throw Error("item encoder ant: no domain " + std::to_string(domain) + " (bound to " +
                  std::to_string(num_domains_) + ")");
  }

  // The features and masks follow the parameters to their device (kept out of the module's buffers, so a
  // checkpoint holds parameters only and loads into a model bound to other domains).
  const torch::Tensor& features(size_t m, int64_t domain) {
    auto& x = adapters_[m].features[static_cast<size_t>(domain)];
    if (x.device() != adapters_[m].weight.device()) x = x.to(adapters_[m].weight.device());
    return x;
  }
  const SparseRows& sparse_rows(size_t m, int64_t domain) {
    auto& x = adapters_[m].rows[static_cast<size_t>(domain)];
    if (x.device() != adapters_[m].weight.device()) x = x.to(adapters_[m].weight.device());
    return x;
  }
  const torch::Tensor& mask(size_t m, int64_t domain) {
    auto& x = adapters_[m].present[static_cast<size_t>(domain)];
    if (x.device() != adapters_[m].weight.device()) x = x.to(adapters_[m].weight.device());
    return x;
  }

  // [n, in] -> [n, D]: the experts' outputs weighted by the gate.
  torch::Tensor adapt(const Adapter& a, const torch::Tensor& x, const FastWeights& w) {
    namespace F = torch::nn::functional;
    const auto weight = w(a.weight).view({o_.experts, a.dim, a.in});
    const auto bias = w(a.bias).view({o_.experts, -1});
    std::vector<torch::Tensor> outs;
    for (int64_t e = 0; e < o_.experts; ++e) {
      auto xe = o_.dropout > 0 ? F::dropout(x, F::DropoutFuncOptions().p(o_.dropout).training(is_training())) : x;
      outs.push_back(a.whiten ? torch::matmul(xe - bias[e], weight[e].t()) : torch::matmul(xe, weight[e].t()) + bias[e]);
    }
    auto y = torch::stack(outs, 1);  // [n, E, D]
    // The gate reads the raw features (ANT: x, not the dropped-out input); noise in training only.
    auto logits = torch::matmul(x, w(a.gate).view({a.in, o_.experts}));
    if (o_.noise && is_training())
      logits = logits +
               torch::randn_like(logits) * (F::softplus(torch::matmul(x, w(a.noise).view({a.in, o_.experts}))) + 0.01);
    auto g = torch::softmax(logits, -1);  // [n, E]
    return (g.unsqueeze(-1) * y).sum(1);
  }

  // The linear adapter over CSR rows: the same math as `adapt` on their dense form.
  torch::Tensor adapt_sparse(const Adapter& a, const SparseRows& x, const FastWeights& w) {
    namespace F = torch::nn::functional;
    // Sum of table rows at the columns, weighted by the (dropped-out) values: x^T T for a dense row x.
    auto bag = [&](const torch::Tensor& table, const torch::Tensor& weights) {
      return F::embedding_bag(x.columns, table, F::EmbeddingBagFuncOptions()
                                                   .offsets(x.ptr)
                                                   .include_last_offset(true)
                                                   .mode(torch::kSum)
                                                   .per_sample_weights(weights));
    };
    const auto tables = w(a.weight).view({o_.experts, a.dim, a.in}).transpose(1, 2).contiguous();  // [E, in, D]
    const auto bias = w(a.bias).view({o_.experts, -1});
    const bool drop = o_.dropout > 0 && is_training();
    std::vector<torch::Tensor> outs;
    for (int64_t e = 0; e < o_.experts; ++e) {
      auto values = drop ? x.values * torch::bernoulli(torch::full_like(x.values, 1 - o_.dropout)) / (1 - o_.dropout)
                         : x.values;
      outs.push_back(bag(tables[e], values) + bias[e]);
    }
    auto y = torch::stack(outs, 1);  // [n, E, D]
    auto logits = bag(w(a.gate).view({a.in, o_.experts}), x.values);
    if (o_.noise && is_training())
      logits = logits + torch::randn_like(logits) * (F::softplus(bag(w(a.noise).view({a.in, o_.experts}), x.values)) + 0.01);
    auto g = torch::softmax(logits, -1);
    return (g.unsqueeze(-1) * y).sum(1);
  }

  // Modality m's adapter over the items `ids` of a domain.
  torch::Tensor adapt_rows(size_t m, int64_t domain, const torch::Tensor& ids, const FastWeights& w) {
    if (adapters_[m].sparse) return adapt_sparse(adapters_[m], sparse_rows(m, domain).take(ids), w);
    return adapt(adapters_[m], features(m, domain).index({ids}), w);
  }

  AntOptions o_;
  std::vector<Adapter> adapters_;
  std::vector<std::shared_ptr<torch::nn::Module>> modules_;
  int64_t num_domains_ = 0;
  int64_t fusion_[2] = {-1, -1};
  int64_t cross_[2] = {-1, -1};
};

}  // namespace

XREC_PLUGIN("ant", "1.0.0", "ANT modality encoder: a mixture-of-experts adapter per item feature, fused") {
  using namespace xrec::param;
  registrar.add_item_encoder(
      "ant",
      "ANT's multi-modal item encoder (Peng et al., arXiv 2309.10195): one adapter per modality (a mixture of "
      "experts, parametric whitening for dense features, a noisy softmax gate starting at zero), summed, plus "
      "fusion_weight * (a ⊙ b) for the fusion pair; a modality an item lacks is masked. Defaults from ninglab/ANT.",
      {
          string_list("modalities", {},
                      "Item features to encode, one adapter each: text (text_features), attributes "
                      "(attribute_features), numeric:<field> (numeric_features), vectors (vector_file)"),
          integer("experts", 8, "Experts per adapter").range(1, 1024),
          real("dropout", 0.2, "Dropout on an expert's input (each expert its own mask)").range(0, 0.99),
          string_list("whiten", {"text", "vectors"},
                      "Modalities whose experts are parametric whitening W(dropout(x) - b); the others get a "
                      "linear map W dropout(x) + c"),
          boolean("noise", true, "Noisy gate in training: + N(0,1) * (softplus(x W_n) + 0.01)"),
          string_list("fusion", {}, "Two modalities a, b whose product fusion_weight * (a ⊙ b) is added ([] = none)"),
          real("fusion_weight", 0.1, "beta: the weight of the fusion product").at_least(0),
          string_list("cross_modal", {},
                      "Two modalities a, b for the auxiliary cross-modal contrastive loss over a batch's items "
                      "([] = none)"),
          real("cross_modal_weight", 1e-3, "lambda: the weight of the cross-modal loss").at_least(0),
          real("cross_modal_temperature", 0.07, "Temperature of the cross-modal loss's cosine scores").at_least(1e-6),
          real("init_std", 0.02, "Expert maps are drawn normal(0, init_std)").at_least(0),
          string("sparse_inputs", "auto",
                 "How a linear modality's input is read: always as (column, value) rows through embedding bags, "
                 "never (dense matrix products), or auto: sparsely when at most 5% of its values are nonzero "
                 "(multi-hot attributes). The same math; whitening modalities are always read densely")
              .one_of({"auto", "always", "never"}),
      },
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<AntEncoder>(ant_options(p)); });
}
