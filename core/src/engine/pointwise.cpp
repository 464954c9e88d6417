#include "xrec/engine/pointwise.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

namespace {
void check_rows(const SideInfo& side, size_t rows, const std::string& what, const std::string& domain) {
  for (auto& f : side.categorical)
    if (f.values.size() != rows)
      throw InputError("dataset '" + domain + "': " + what + " field '" + f.name + "' has " +
                       std::to_string(f.values.size()) + " rows, expected " + std::to_string(rows));
  for (auto& f : side.numeric)
    if (f.values.size() != rows)
      throw InputError("dataset '" + domain + "': " + what + " field '" + f.name + "' has " +
                       std::to_string(f.values.size()) + " rows, expected " + std::to_string(rows));
}

// One categorical field of the batch rows in EmbeddingBag layout; `row_of` maps a batch row to the side row.
template <class RowOf>
FieldBatch field_batch(const CategoricalFeature& f, size_t n, RowOf row_of) {
  std::vector<int64_t> ids, offsets{0};
  for (size_t b = 0; b < n; ++b) {
    for (int64_t v : f.values[row_of(b)])
      if (v > 0) ids.push_back(v);  // 0 = missing
    offsets.push_back(static_cast<int64_t>(ids.size()));
  }
  return {torch::tensor(ids, torch::kLong), torch::tensor(offsets, torch::kLong)};
}

template <class RowOf>
torch::Tensor numeric_batch(const std::vector<NumericFeature>& fs, size_t n, RowOf row_of) {
  auto out = torch::empty({static_cast<int64_t>(n), static_cast<int64_t>(fs.size())}, torch::kFloat);
  auto a = out.accessor<float, 2>();
  for (size_t b = 0; b < n; ++b)
    for (size_t j = 0; j < fs.size(); ++j)
      a[static_cast<int64_t>(b)][static_cast<int64_t>(j)] = static_cast<float>(fs[j].values[row_of(b)]);
  return out;
}
}  // namespace

PointwiseFields pointwise_fields(const DomainData& data) {
  check_rows(data.item_side, static_cast<size_t>(data.num_items + 1), "item", data.name);
  check_rows(data.user_side, static_cast<size_t>(data.num_users()), "user", data.name);
  PointwiseFields f;
  f.num_users = data.num_users();
  f.num_items = data.num_items;
  for (auto& c : data.user_side.categorical) f.user_fields.push_back({c.name, c.vocab});
  for (auto& c : data.item_side.categorical) f.item_fields.push_back({c.name, c.vocab});
  for (auto& c : data.user_side.numeric) f.user_numeric.push_back(c.name);
  for (auto& c : data.item_side.numeric) f.item_numeric.push_back(c.name);
  f.data = &data;
  return f;
}

std::vector<PointwiseRow> pointwise_rows(const std::vector<const UserTask*>& users, UserPart part) {
  std::vector<PointwiseRow> rows;
  for (const UserTask* u : users)
    for (const LabeledItem& l : part == UserPart::Support ? u->support : u->query)
      rows.push_back({u->user, l.item, l.label});
  return rows;
}

std::vector<PointwiseRow> pointwise_rows(const std::vector<UserTask>& users, UserPart part) {
  std::vector<const UserTask*> ptrs;
  for (auto& u : users) ptrs.push_back(&u);
  return pointwise_rows(ptrs, part);
}

PointwiseBatch pointwise_batch(const DomainData& data, const std::vector<PointwiseRow>& rows) {
  check_rows(data.item_side, static_cast<size_t>(data.num_items + 1), "item", data.name);
  check_rows(data.user_side, static_cast<size_t>(data.num_users()), "user", data.name);
  std::vector<int64_t> users, items;
  std::vector<float> labels;
  for (auto& r : rows) {
    if (r.user < 0 || r.user >= data.num_users())
      throw InputError("pointwise batch of dataset '" + data.name + "': user " + std::to_string(r.user) +
                       " is outside 0.." + std::to_string(data.num_users() - 1));
    if (r.item < 1 || r.item > data.num_items)
      throw InputError("pointwise batch of dataset '" + data.name + "': item " + std::to_string(r.item) +
                       " is outside 1.." + std::to_string(data.num_items));
    users.push_back(r.user);
    items.push_back(r.item);
    labels.push_back(r.label);
  }
  const size_t n = rows.size();
  auto user_row = [&](size_t b) { return static_cast<size_t>(rows[b].user); };
  auto item_row = [&](size_t b) { return static_cast<size_t>(rows[b].item); };
  PointwiseBatch batch;
  batch.users = torch::tensor(users, torch::kLong);
  batch.items = torch::tensor(items, torch::kLong);
  batch.labels = torch::tensor(labels, torch::kFloat);
  for (auto& f : data.user_side.categorical) batch.user_fields.push_back(field_batch(f, n, user_row));
  for (auto& f : data.item_side.categorical) batch.item_fields.push_back(field_batch(f, n, item_row));
  batch.user_numeric = numeric_batch(data.user_side.numeric, n, user_row);
  batch.item_numeric = numeric_batch(data.item_side.numeric, n, item_row);
  return batch;
}

PointwiseBatch to_device(PointwiseBatch b, torch::Device device) {
  auto move = [&](torch::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  move(b.users), move(b.items), move(b.labels), move(b.user_numeric), move(b.item_numeric);
  for (auto* fields : {&b.user_fields, &b.item_fields})
    for (auto& f : *fields) move(f.ids), move(f.offsets);
  return b;
}

std::vector<float> pointwise_probabilities(PointwiseModel& model, const DomainData& data,
                                           const std::vector<PointwiseRow>& rows, const FastWeights& w,
                                           int64_t batch_size, torch::Device device) {
  if (batch_size < 1) throw Error("pointwise_probabilities: batch_size must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<float> out;
  out.reserve(rows.size());
  for (size_t lo = 0; lo < rows.size(); lo += static_cast<size_t>(batch_size)) {
    const size_t hi = std::min(rows.size(), lo + static_cast<size_t>(batch_size));
    const std::vector<PointwiseRow> part(rows.begin() + static_cast<std::ptrdiff_t>(lo),
                                         rows.begin() + static_cast<std::ptrdiff_t>(hi));
    auto logits = model.logits(to_device(pointwise_batch(data, part), device), w);
    if (logits.dim() != 1 || logits.size(0) != static_cast<int64_t>(part.size()))
      throw Error("pointwise model returned logits of shape " + c10::str(logits.sizes()) + ", expected [" +
                  std::to_string(part.size()) + "]");
    auto p = torch::sigmoid(logits.to(torch::kCPU, torch::kFloat)).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  return out;
}

MetricMap evaluate_pointwise(PointwiseModel& model, const DomainData& data, const std::vector<UserTask>& users,
                             UserPart part, const FastWeights& w, int64_t batch_size, torch::Device device) {
  const auto rows = pointwise_rows(users, part);
  if (rows.empty()) throw InputError("pointwise evaluation: no " + std::string(to_string(part)) + " pairs to score");
  model.eval();
  const auto probs = pointwise_probabilities(model, data, rows, w, batch_size, device);
  std::vector<float> labels;
  std::vector<int64_t> groups;
  for (auto& r : rows) labels.push_back(r.label), groups.push_back(r.user);
  return pointwise_metrics(labels, probs, groups);
}

}  // namespace xrec::engine
