// Pointwise model plugin `ctr_mlp`: MeLU's predictor as a CTR model. Every user and item field (and the ids)
// gets a `dim`-wide embedding (a multi-valued field such as genres: the mean of its values' embeddings),
// numeric fields a standardised linear projection; the concatenation goes through ReLU layers `hidden`
// (fc1..fcN) and a linear output `out` to one logit. Every parameter is read through FastWeights, so the
// meta-learning strategies can adapt any subset by name (fc2.*, out.*, ...).
#include <torch/torch.h>

#include <cmath>

#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/pointwise_model.hpp"

namespace {

using namespace xrec;

// Mean of the rows of `table` named by an EmbeddingBag-layout field; an empty bag gives zeros. Built from
// index_select + index_add (not embedding_bag) so that second-order gradients exist for every parameter.
torch::Tensor bag_mean(const torch::Tensor& table, const FieldBatch& f, int64_t rows) {
  const auto counts = (f.offsets.slice(0, 1) - f.offsets.slice(0, 0, -1));
  auto out = torch::zeros({rows, table.size(1)}, table.options());
  if (f.ids.numel() == 0) return out;
  const auto seg = torch::repeat_interleave(torch::arange(rows, counts.options()), counts);
  out = out.index_add(0, seg, table.index_select(0, f.ids));
  return out / counts.clamp_min(1).to(table.dtype()).unsqueeze(1);
}

class CtrMlp : public PointwiseModel {
 public:
  explicit CtrMlp(const Params& p)
      : dim_(p.integer("dim")),
        hidden_(p.int_list("hidden")),
        user_id_(p.flag("user_id")),
        item_id_(p.flag("item_id")),
        init_std_(p.real("init_std")) {
    for (int64_t h : hidden_)
      if (h < 1) throw InputError("pointwise_model (ctr_mlp): every `hidden` size must be >= 1, found " + std::to_string(h));
  }

  void bind(const PointwiseFields& f) override {
    if (bound_) throw Error("ctr_mlp: bind called twice");
    bound_ = true;
    int64_t width = 0;
    auto table = [&](const std::string& name, int64_t rows) {
      width += dim_;
      return register_parameter(name, torch::randn({rows, dim_}) * init_std_);
    };
    if (user_id_) user_table_ = table("user_id", f.num_users);
    if (item_id_) item_table_ = table("item_id", f.num_items + 1);
    for (auto& u : f.user_fields) user_fields_.push_back(table("user_field_" + u.name, u.vocab + 1));
    for (auto& i : f.item_fields) item_fields_.push_back(table("item_field_" + i.name, i.vocab + 1));
    // Numeric columns: standardised with the domain's own mean and spread (NaN = missing -> 0), then one
    // linear map per side.
    auto numeric = [&](const std::string& name, const std::vector<NumericFeature>* cols, size_t n,
                       torch::Tensor& mean, torch::Tensor& scale) -> torch::Tensor {
      if (n == 0) return {};
      std::vector<float> m(n, 0.f), s(n, 1.f);
      if (cols && cols->size() == n)
        for (size_t j = 0; j < n; ++j) {
          double sum = 0, sq = 0;
          int64_t k = 0;
          for (double v : (*cols)[j].values)
            if (!std::isnan(v)) sum += v, sq += v * v, ++k;
          if (k > 0) {
            const double mu = sum / k, var = std::max(0.0, sq / k - mu * mu);
            m[j] = static_cast<float>(mu);
            s[j] = var > 1e-12 ? static_cast<float>(1 / std::sqrt(var)) : 1.f;
          }
        }
      mean = register_buffer(name + "_mean", torch::tensor(m));
      scale = register_buffer(name + "_scale", torch::tensor(s));
      width += dim_;
      return register_parameter(name, torch::randn({static_cast<int64_t>(n), dim_}) * init_std_);
    };
    user_numeric_ = numeric("user_numeric", f.data ? &f.data->user_side.numeric : nullptr, f.user_numeric.size(),
                            user_mean_, user_scale_);
    item_numeric_ = numeric("item_numeric", f.data ? &f.data->item_side.numeric : nullptr, f.item_numeric.size(),
                            item_mean_, item_scale_);
    if (width == 0)
      throw InputError("pointwise_model (ctr_mlp): nothing to embed: the ids are off (user_id, item_id: false) and "
                       "the dataset has no user or item fields");
    int64_t in = width;
    for (size_t l = 0; l < hidden_.size(); ++l) {
      const std::string n = "fc" + std::to_string(l + 1);
      // PyTorch's nn.Linear initialisation (uniform +-1/sqrt(in)), as MeLU's layers had.
      const double b = 1.0 / std::sqrt(static_cast<double>(in));
      weights_.push_back(register_parameter(n + "_weight", torch::empty({hidden_[l], in}).uniform_(-b, b)));
      biases_.push_back(register_parameter(n + "_bias", torch::empty({hidden_[l]}).uniform_(-b, b)));
      in = hidden_[l];
    }
    const double b = 1.0 / std::sqrt(static_cast<double>(in));
    weights_.push_back(register_parameter("out_weight", torch::empty({1, in}).uniform_(-b, b)));
    biases_.push_back(register_parameter("out_bias", torch::zeros({1})));
  }

  torch::Tensor logits(const PointwiseBatch& b, const FastWeights& w) override {
    if (!bound_) throw Error("ctr_mlp: logits before bind");
    const int64_t rows = b.items.size(0);
    if (b.user_fields.size() != user_fields_.size() || b.item_fields.size() != item_fields_.size())
      throw InputError("ctr_mlp: the batch carries " + std::to_string(b.user_fields.size()) + " user and " +
                       std::to_string(b.item_fields.size()) + " item fields, the model was bound to " +
                       std::to_string(user_fields_.size()) + " and " + std::to_string(item_fields_.size()));
    std::vector<torch::Tensor> parts;
    if (user_id_) parts.push_back(w(user_table_).index_select(0, b.users));
    if (item_id_) parts.push_back(w(item_table_).index_select(0, b.items));
    for (size_t i = 0; i < user_fields_.size(); ++i) parts.push_back(bag_mean(w(user_fields_[i]), b.user_fields[i], rows));
    for (size_t i = 0; i < item_fields_.size(); ++i) parts.push_back(bag_mean(w(item_fields_[i]), b.item_fields[i], rows));
    auto numeric = [&](const torch::Tensor& x, const torch::Tensor& mean, const torch::Tensor& scale,
                       const torch::Tensor& proj) {
      auto z = ((x - mean) * scale).nan_to_num(0.0, 0.0, 0.0);
      parts.push_back(z.matmul(w(proj)));
    };
    if (user_numeric_.defined()) numeric(b.user_numeric, user_mean_, user_scale_, user_numeric_);
    if (item_numeric_.defined()) numeric(b.item_numeric, item_mean_, item_scale_, item_numeric_);
    auto x = torch::cat(parts, 1);
    for (size_t l = 0; l + 1 < weights_.size(); ++l)
      x = torch::relu(torch::nn::functional::linear(x, w(weights_[l]), w(biases_[l])));
    return torch::nn::functional::linear(x, w(weights_.back()), w(biases_.back())).squeeze(1);
  }

 private:
  int64_t dim_;
  std::vector<int64_t> hidden_;
  bool user_id_, item_id_;
  double init_std_;
  bool bound_ = false;
  torch::Tensor user_table_, item_table_, user_numeric_, item_numeric_;
  torch::Tensor user_mean_, user_scale_, item_mean_, item_scale_;
  std::vector<torch::Tensor> user_fields_, item_fields_, weights_, biases_;
};

}  // namespace

XREC_PLUGIN("ctr_mlp", "1.0.0", "MeLU-style CTR model over user and item fields") {
  registrar.add_pointwise_model(
      "ctr_mlp",
      "Embeddings of the user and item fields and ids (dim each; a multi-valued field is the mean of its values), "
      "numeric fields standardised and projected, concatenated, ReLU layers fc1..fcN (`hidden`) and a linear output "
      "`out` to one logit (sigmoid + log loss in the strategies). Parameter names for partitions: user_id, item_id, "
      "user_field_<name>, item_field_<name>, user_numeric, item_numeric, fc<k>_weight/_bias, out_weight/_bias.",
      {xrec::param::integer("dim", 32, "Embedding width per field and id (MeLU: 32)").range(1, 4096),
       xrec::param::int_list("hidden", {64, 64}, "ReLU layer sizes fc1..fcN (MeLU: 64, 64)"),
       xrec::param::boolean("user_id", false,
                            "Embed the user id (off: a cold user's id row is never trained offline; MeLU has none)"),
       xrec::param::boolean("item_id", true, "Embed the item id"),
       xrec::param::real("init_std", 0.1, "Standard deviation of the embedding tables' normal initialisation")
           .above(0)},
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<CtrMlp>(p); });
}
