#include "meta.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "xrec/api/errors.hpp"

namespace xrec::mpp {

bool glob_match(const std::string& p, const std::string& s) {
  size_t i = 0, j = 0, star = std::string::npos, mark = 0;
  while (j < s.size()) {
    if (i < p.size() && (p[i] == '?' || p[i] == s[j])) {
      ++i, ++j;
    } else if (i < p.size() && p[i] == '*') {
      star = i++, mark = j;
    } else if (star != std::string::npos) {
      i = star + 1, j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.size() && p[i] == '*') ++i;
  return i == p.size();
}

int64_t Partition::adaptive_numel() const {
  int64_t n = 0;
  for (auto& t : adaptive) n += t.numel();
  return n;
}

Partition partition(const torch::nn::Module& model, const std::vector<std::string>& patterns) {
  Partition p;
  std::vector<int> used(patterns.size(), 0);
  std::string names;
  for (auto& kv : model.named_parameters()) {
    bool hit = false;
    for (size_t k = 0; k < patterns.size(); ++k)
      if (glob_match(patterns[k], kv.key())) hit = true, used[k] = 1;
    (hit ? p.adaptive_names : p.fixed_names).push_back(kv.key());
    (hit ? p.adaptive : p.fixed).push_back(kv.value());
    names += (names.empty() ? "" : ", ") + kv.key();
  }
  for (size_t k = 0; k < patterns.size(); ++k)
    if (!used[k])
      throw InputError("adaptive pattern '" + patterns[k] + "' matches no parameter of the pointwise model (its " +
                       "parameters: " + names + ")");
  if (p.adaptive.empty())
    throw InputError("the adaptive part is empty: `adaptive` must name at least one parameter (the model's: " + names +
                     ")");
  return p;
}

FastWeights fast_weights(const Partition& part, const std::vector<torch::Tensor>& phi) {
  if (phi.size() != part.adaptive.size())
    throw Error("fast_weights: " + std::to_string(phi.size()) + " tensors for " +
                std::to_string(part.adaptive.size()) + " adaptive parameters");
  FastWeights w;
  for (size_t k = 0; k < phi.size(); ++k) w.set(part.adaptive[k], phi[k]);
  return w;
}

torch::Tensor log_loss(PointwiseModel& model, const PointwiseBatch& batch, const FastWeights& w) {
  return torch::binary_cross_entropy_with_logits(model.logits(batch, w), batch.labels);
}

std::vector<torch::Tensor> adapt(PointwiseModel& model, const Partition& part, const PointwiseBatch& support,
                                 const AdaptOptions& o, Graph graph, spdlog::logger* log, int64_t user) {
  std::vector<torch::Tensor> phi;
  const bool differentiable = graph != Graph::None;
  for (auto& t : part.adaptive) phi.push_back(differentiable ? t * 1 : t.detach().clone());
  if (!support.labels.defined() || support.labels.numel() == 0) {
    if (log) log->warn("user {}: empty support set, scored with the initialisation (no adaptation)", user);
    return phi;
  }
  for (int64_t s = 0; s < o.steps; ++s) {
    if (!differentiable)
      for (auto& t : phi) t = t.detach().requires_grad_(true);
    const auto loss = log_loss(model, support, fast_weights(part, phi));
    // allow_unused: a row of an embedding table the batch never reads gets no gradient (zero step).
    auto grads = torch::autograd::grad({loss}, phi, {}, /*retain_graph=*/graph == Graph::Second,
                                       /*create_graph=*/graph == Graph::Second, /*allow_unused=*/true);
    for (size_t k = 0; k < phi.size(); ++k) {
      if (!grads[k].defined()) continue;
      const auto g = graph == Graph::Second ? grads[k] : grads[k].detach();
      phi[k] = phi[k] - o.lr * g;
    }
  }
  if (!differentiable)
    for (auto& t : phi) t = t.detach();
  return phi;
}

torch::Tensor meta_loss(PointwiseModel& model, const Partition& part,
                        const std::vector<const PointwiseBatch*>& supports,
                        const std::vector<const PointwiseBatch*>& queries, const AdaptOptions& o, Graph graph) {
  if (supports.size() != queries.size() || supports.empty())
    throw Error("meta_loss: needs as many support as query batches, at least one");
  if (graph == Graph::None) throw Error("meta_loss: needs a differentiable adaptation (first or second order)");
  torch::Tensor total;
  for (size_t u = 0; u < supports.size(); ++u) {
    const auto phi = adapt(model, part, *supports[u], o, graph);
    const auto l = log_loss(model, *queries[u], fast_weights(part, phi));
    total = total.defined() ? total + l : l;
  }
  return total / static_cast<double>(supports.size());
}

std::vector<Ranking> rank_positives(const std::vector<float>& scores, const std::vector<int64_t>& positives,
                                    const std::vector<int64_t>& seen) {
  const std::unordered_set<int64_t> excluded(seen.begin(), seen.end());
  const auto n = static_cast<int64_t>(scores.size()) - 1;
  std::vector<int64_t> candidates;  // items the user never interacted with
  for (int64_t i = 1; i <= n; ++i)
    if (!excluded.count(i)) candidates.push_back(i);
  std::vector<Ranking> out;
  for (int64_t p : positives) {
    if (p < 1 || p > n) throw InputError("rank_positives: item " + std::to_string(p) + " outside 1.." + std::to_string(n));
    const float s = scores[static_cast<size_t>(p)];
    int64_t ahead = 0;
    for (int64_t c : candidates) {
      const float t = scores[static_cast<size_t>(c)];
      if (t > s || (t == s && c < p)) ++ahead;
    }
    out.push_back({ahead, static_cast<int64_t>(candidates.size()) + 1});
  }
  return out;
}

UserParamStore::UserParamStore(const Partition& part) : names_(part.adaptive_names) {
  for (auto& t : part.adaptive) shapes_.push_back(t.sizes().vec());
}

void UserParamStore::add(int64_t user, const std::vector<torch::Tensor>& phi) {
  if (phi.size() != shapes_.size()) throw Error("UserParamStore::add: wrong number of tensors");
  users_.push_back(user);
  for (size_t k = 0; k < phi.size(); ++k) {
    if (phi[k].sizes().vec() != shapes_[k]) throw Error("UserParamStore::add: tensor " + names_[k] + " has a wrong shape");
    auto c = phi[k].detach().to(torch::kCPU, torch::kFloat).contiguous();
    data_.insert(data_.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
}

int64_t UserParamStore::write(const std::string& stem) const {
  const int64_t per_user = users_.empty() ? 0 : static_cast<int64_t>(data_.size() / users_.size());
  {
    std::ofstream bin(stem + ".bin", std::ios::binary);
    bin.write(reinterpret_cast<const char*>(data_.data()), static_cast<std::streamsize>(data_.size() * sizeof(float)));
    if (!bin) throw Error("cannot write " + stem + ".bin");
  }
  std::ofstream idx(stem + ".index");
  idx << "# xrec per-user adaptive parameters: float32 little-endian in " << stem.substr(stem.find_last_of('/') + 1)
      << ".bin, one block per user\n";
  for (size_t k = 0; k < names_.size(); ++k) {
    idx << "param " << names_[k];
    for (int64_t d : shapes_[k]) idx << ' ' << d;
    idx << '\n';
  }
  for (size_t u = 0; u < users_.size(); ++u)
    idx << "user " << users_[u] << ' ' << static_cast<int64_t>(u) * per_user << ' ' << per_user << '\n';
  if (!idx) throw Error("cannot write " + stem + ".index");
  return static_cast<int64_t>(data_.size() * sizeof(float));
}

std::vector<torch::Tensor> UserParamStore::load(const std::string& stem, int64_t user) {
  std::ifstream idx(stem + ".index");
  if (!idx) throw InputError("per-user parameter index " + stem + ".index cannot be read");
  std::vector<std::vector<int64_t>> shapes;
  int64_t offset = -1, count = 0;
  std::string line;
  while (std::getline(idx, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "param") {
      std::string name;
      in >> name;
      std::vector<int64_t> shape;
      for (int64_t d; in >> d;) shape.push_back(d);
      shapes.push_back(shape);
    } else if (tag == "user") {
      int64_t u = 0, o = 0, c = 0;
      in >> u >> o >> c;
      if (u == user) offset = o, count = c;
    }
  }
  if (offset < 0) throw InputError(stem + ".index has no user " + std::to_string(user));
  int64_t expected = 0;
  for (auto& s : shapes) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    expected += n;
  }
  if (expected != count)
    throw InputError(stem + ".index: user " + std::to_string(user) + " has " + std::to_string(count) +
                     " values, the parameters need " + std::to_string(expected));
  std::ifstream bin(stem + ".bin", std::ios::binary);
  std::vector<float> buf(static_cast<size_t>(count));
  bin.seekg(static_cast<std::streamoff>(offset * 4));
  bin.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(count * 4));
  if (!bin) throw InputError(stem + ".bin is shorter than its index says");
  std::vector<torch::Tensor> out;
  int64_t at = 0;
  for (auto& s : shapes) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    out.push_back(torch::from_blob(buf.data() + at, {n}, torch::kFloat).clone().reshape(s));
    at += n;
  }
  return out;
}

}  // namespace xrec::mpp
