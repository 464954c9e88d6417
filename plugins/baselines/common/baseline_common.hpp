#pragma once
// Shared by the baseline plugins (header only: each plugin compiles its own copy, nothing crosses the
// plugin boundary). Checks of the fitted task and of scored histories, popularity counts, and a
// row-parallel fill of the dense [B, num_items + 1] score matrix.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/task.hpp"

namespace xrec::baselines {

// The number of items of `task`; throws InputError when the task carries no domain or an id of a
// training sequence is outside 0..num_items (0 = padding, skipped by every baseline).
inline int64_t checked_num_items(const Task& task, const std::string& who) {
  if (!task.data || task.num_items() <= 0)
    throw InputError(who + ": fit() needs a task with its domain data and at least one item (task '" + task.name +
                     "' has " + (task.data ? std::to_string(task.num_items()) + " items" : "no domain data") + ")");
  const int64_t n = task.num_items();
  for (size_t u = 0; u < task.train.size(); ++u)
    for (int64_t i : task.train[u])
      if (i < 0 || i > n)
        throw InputError(who + ": training sequence " + std::to_string(u) + " of task '" + task.name +
                         "' has item id " + std::to_string(i) + ", expected 1.." + std::to_string(n) +
                         " (0 = padding)");
  return n;
}

// Training interactions per item (by_users: each user counts once per item). Index 0 stays 0.
inline std::vector<int64_t> item_counts(const Task& task, int64_t num_items, bool by_users) {
  std::vector<int64_t> count(static_cast<size_t>(num_items + 1), 0);
  std::vector<int64_t> last_user(static_cast<size_t>(num_items + 1), -1);
  for (size_t u = 0; u < task.train.size(); ++u)
    for (int64_t i : task.train[u]) {
      if (i == 0) continue;
      if (by_users) {
        if (last_user[static_cast<size_t>(i)] == static_cast<int64_t>(u)) continue;
        last_user[static_cast<size_t>(i)] = static_cast<int64_t>(u);
      }
      ++count[static_cast<size_t>(i)];
    }
  return count;
}

// Throws InputError for a history item outside 0..num_items (a history from another domain).
inline void check_history(const std::vector<int64_t>& h, size_t row, int64_t num_items, const std::string& who) {
  for (int64_t i : h)
    if (i < 0 || i > num_items)
      throw InputError(who + ": history " + std::to_string(row) + " of the scored batch has item id " +
                       std::to_string(i) + ", expected 0.." + std::to_string(num_items) + " (the fitted domain)");
}

// Scores [B, num_items + 1], each row written by fill(history, pointer to the row) in parallel; fill must
// write all num_items + 1 entries (the tensor starts uninitialised: zeroing 50 MB per batch of 1024 Beauty
// rows would cost as much as the fill). Histories are checked first, so a bad one throws before any work
// (and never inside a worker thread).
template <class Fill>
torch::Tensor score_rows(const std::vector<const std::vector<int64_t>*>& histories, int64_t num_items,
                         const std::string& who, Fill&& fill) {
  if (num_items <= 0) throw Error(who + ": score() called before fit()");
  for (size_t b = 0; b < histories.size(); ++b) {
    if (!histories[b]) throw Error(who + ": history " + std::to_string(b) + " of the scored batch is null");
    check_history(*histories[b], b, num_items, who);
  }
  const auto B = static_cast<int64_t>(histories.size());
  auto out = torch::empty({B, num_items + 1}, torch::kFloat);
  float* data = out.data_ptr<float>();
  at::parallel_for(0, B, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) fill(*histories[static_cast<size_t>(b)], data + b * (num_items + 1));
  });
  return out;
}

// Throws InputError unless `value` is one of `choices` (the config layer checks this too; the factory
// repeats it for callers that build Params by hand).
inline void check_choice(const std::string& who, const std::string& key, const std::string& value,
                         const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  std::string list;
  for (auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  throw InputError(who + ": " + key + " '" + value + "' is not valid, expected one of " + list);
}

inline void check_range(const std::string& who, const std::string& key, double value, double lo, double hi,
                        const std::string& expected) {
  if (value >= lo && value <= hi) return;
  std::ostringstream os;
  os << who << ": " << key << " is " << value << ", expected " << expected;
  throw InputError(os.str());
}

}  // namespace xrec::baselines
