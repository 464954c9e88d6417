#include "xrec/engine/batching.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

TrainBatches::TrainBatches(const Task& task, const BatchOptions& options, uint64_t seed)
    : task_(task), o_(options), rng_(seed) {
  for (size_t r = 0; r < task.train.size(); ++r) {
    if (task.train[r].size() < 2) continue;
    rows_.push_back(static_cast<int64_t>(r));
    if (o_.negatives > 0) {
      std::vector<int64_t> s = task.train[r];
      std::sort(s.begin(), s.end());
      s.erase(std::unique(s.begin(), s.end()), s.end());
      seen_.push_back(std::move(s));
    }
  }
  if (rows_.empty()) throw InputError("domain '" + task.name + "' has no training sequence with two or more items");
  const int64_t stride = std::max<int64_t>(1, (o_.max_len + 1) / 2);
  for (size_t r = 0; r < rows_.size(); ++r) {
    const auto row = static_cast<int64_t>(r);
    const auto n = static_cast<int64_t>(task.train[static_cast<size_t>(rows_[r])].size());
    switch (o_.samples) {
      case BatchOptions::Samples::Sequence: samples_.push_back({row, n - 1, 0}); break;
      case BatchOptions::Samples::Prefix:
        for (int64_t end = 1; end < n; ++end) samples_.push_back({row, end, 1});
        break;
      case BatchOptions::Samples::Window:
        // From the newest target back: each window trains its last `stride` targets; the window that reaches
        // the start of the sequence trains all of its targets.
        for (int64_t end = n - 1; end >= 1; end -= stride) {
          const bool reaches_start = end <= o_.max_len;
          samples_.push_back({row, end, reaches_start ? 0 : stride});
          if (reaches_start) break;
        }
        break;
    }
  }
  order_.resize(samples_.size());
  std::iota(order_.begin(), order_.end(), 0);
}

int64_t TrainBatches::num_batches() const {
  return (num_samples() + o_.batch_size - 1) / o_.batch_size;
}

int64_t TrainBatches::sample_length(int64_t i) const {
  return std::min(o_.max_len, samples_.at(static_cast<size_t>(i)).end);
}

std::string TrainBatches::state() const {
  std::ostringstream out;
  out << rng_ << ' ' << order_.size();
  for (auto i : order_) out << ' ' << i;
  return out.str();
}

void TrainBatches::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 rng;
  size_t n = 0;
  in >> rng >> n;
  std::vector<int64_t> order(n);
  for (auto& i : order) in >> i;
  if (!in || n != order_.size())
    throw Error("batch state does not fit this task (" + std::to_string(n) + " samples stored, " +
                std::to_string(order_.size()) + " now)");
  rng_ = rng;
  order_ = std::move(order);
}

void TrainBatches::shuffle() { std::shuffle(order_.begin(), order_.end(), rng_); }

Batch TrainBatches::get(int64_t b) {
  const int64_t lo = b * o_.batch_size, hi = std::min<int64_t>(lo + o_.batch_size, num_samples());
  return make(std::vector<int64_t>(order_.begin() + lo, order_.begin() + hi));
}

Batch TrainBatches::sample(int64_t size) {
  std::uniform_int_distribution<int64_t> pick(0, num_samples() - 1);
  std::vector<int64_t> idx(static_cast<size_t>(size));
  for (auto& i : idx) i = pick(rng_);
  return make(idx);
}

Batch TrainBatches::make(const std::vector<int64_t>& idx) {
  // Columns that would be padding in every row are dropped: right alignment keeps positions consistent.
  int64_t longest = 1;
  for (int64_t i : idx) longest = std::max(longest, samples_[static_cast<size_t>(i)].end);
  const int64_t B = static_cast<int64_t>(idx.size()), L = std::min(o_.max_len, longest), N = o_.negatives;
  Batch batch;
  batch.inputs = torch::zeros({B, L}, torch::kLong);
  batch.targets = torch::zeros({B, L}, torch::kLong);
  auto in = batch.inputs.accessor<int64_t, 2>();
  auto tg = batch.targets.accessor<int64_t, 2>();
  int64_t* neg = nullptr;
  if (N > 0) {
    batch.negatives = torch::zeros({B, L, N}, torch::kLong);
    neg = batch.negatives.data_ptr<int64_t>();
  }
  std::uniform_int_distribution<int64_t> item(1, task_.num_items());
  for (int64_t b = 0; b < B; ++b) {
    const Sample& smp = samples_[static_cast<size_t>(idx[static_cast<size_t>(b)])];
    const auto& s = task_.train[static_cast<size_t>(rows_[static_cast<size_t>(smp.row)])];
    const int64_t take = std::min(smp.end, L);  // (input, target) pairs in this row
    for (int64_t k = 0; k < take; ++k) {
      const int64_t pos = L - take + k, src = smp.end - take + k;
      in[b][pos] = s[static_cast<size_t>(src)];
      if (smp.trained > 0 && k < take - smp.trained) continue;  // context only: trained by another sample
      tg[b][pos] = s[static_cast<size_t>(src + 1)];
      if (N > 0) {
        const auto& seen = seen_[static_cast<size_t>(smp.row)];
        for (int64_t j = 0; j < N; ++j) {
          int64_t x;
          // Rejection sampling: items the user interacted with are not negatives (as in SASRec).
          do x = item(rng_);
          while (std::binary_search(seen.begin(), seen.end(), x) &&
                 static_cast<int64_t>(seen.size()) < task_.num_items());
          neg[(b * L + pos) * N + j] = x;
        }
      }
    }
  }
  return batch;
}

namespace {
constexpr uint64_t kFnvOffset = 1469598103934665603ull, kFnvPrime = 1099511628211ull;
void fnv(uint64_t& h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
}
}  // namespace

std::string task_identity(const Task& task) {
  uint64_t h = kFnvOffset;
  for (const auto& s : task.train) {
    const uint64_t n = s.size();
    fnv(h, &n, sizeof n);
    fnv(h, s.data(), s.size() * sizeof(int64_t));
  }
  return task.role + '\0' + task.name + '\0' + std::to_string(task.train.size()) + ':' + std::to_string(h);
}

uint64_t batch_seed(uint64_t run_seed, const Task& task) {
  const uint64_t base = run_seed * 7919 + 1;
  if (task.role == "target") return base;
  uint64_t h = kFnvOffset;
  const std::string key = task.role + "/" + task.name;
  fnv(h, key.data(), key.size());
  return base + h;
}

torch::Tensor pack_histories(const std::vector<const std::vector<int64_t>*>& histories, int64_t max_len) {
  const int64_t B = static_cast<int64_t>(histories.size());
  int64_t longest = 1;
  for (auto* h : histories) longest = std::max<int64_t>(longest, static_cast<int64_t>(h->size()));
  max_len = std::min(max_len, longest);
  auto out = torch::zeros({B, max_len}, torch::kLong);
  auto a = out.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& h = *histories[static_cast<size_t>(b)];
    const int64_t take = std::min<int64_t>(static_cast<int64_t>(h.size()), max_len);
    for (int64_t k = 0; k < take; ++k) a[b][max_len - take + k] = h[h.size() - static_cast<size_t>(take - k)];
  }
  return out;
}

}  // namespace xrec::engine
