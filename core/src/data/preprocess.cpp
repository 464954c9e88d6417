#include "xrec/data/preprocess.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

namespace {

// Rows of a per-item table (row 0 = padding) or per-user table kept by `rows` (old row indices, in order).
template <class T>
std::vector<T> take_rows(const std::vector<T>& values, const std::vector<int64_t>& rows) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(values[static_cast<size_t>(r)]);
  return out;
}

DenseFeature take_dense(const DenseFeature& f, const std::vector<int64_t>& rows) {
  DenseFeature out{f.name, f.dim, {}};
  out.values.reserve(rows.size() * static_cast<size_t>(f.dim));
  for (int64_t r : rows) {
    auto begin = f.values.begin() + r * f.dim;
    out.values.insert(out.values.end(), begin, begin + f.dim);
  }
  return out;
}

void take_side(SideInfo& side, const std::vector<int64_t>& rows) {
  for (auto& f : side.categorical) f.values = take_rows(f.values, rows);
  for (auto& f : side.numeric) f.values = take_rows(f.values, rows);
  for (auto& f : side.text) f.values = take_rows(f.values, rows);
}

// Items mapped to their new ids, removed ones (new id 0) dropped.
std::vector<int64_t> remap_items(const std::vector<int64_t>& items, const std::vector<int64_t>& new_item) {
  std::vector<int64_t> out;
  out.reserve(items.size());
  for (int64_t i : items)
    if (i >= 1 && i < static_cast<int64_t>(new_item.size()) && new_item[static_cast<size_t>(i)] > 0)
      out.push_back(new_item[static_cast<size_t>(i)]);
  return out;
}

template <class T>
void keep_last(std::vector<T>& v, int64_t n) {
  if (n > 0 && static_cast<int64_t>(v.size()) > n) v.erase(v.begin(), v.end() - n);
}

}  // namespace

void preprocess(DomainData& d, const PreprocessOptions& o) {
  const std::string where = "dataset '" + d.name + "': ";
  if (o.k_core < 0) throw InputError(where + "k_core must be >= 0, found " + std::to_string(o.k_core));
  if (o.max_length < 0) throw InputError(where + "max_length must be >= 0, found " + std::to_string(o.max_length));
  if (o.k_core == 0 && o.max_length == 0) return;  // nothing to drop: ids, order and every table stay as loaded
  d.validate();  // the filtering below indexes by item id

  const size_t users = d.sequences.size();
  const size_t items = static_cast<size_t>(d.num_items) + 1;
  // keep[u][k]: interaction k of user u survives. Iterative k-core: dropping users lowers item counts and
  // the other way round, so repeat until nothing changes.
  std::vector<std::vector<char>> keep(users);
  for (size_t u = 0; u < users; ++u) keep[u].assign(d.sequences[u].size(), 1);
  std::vector<char> user_alive(users, 1), item_alive(items, 1);
  item_alive[0] = 0;
  if (o.k_core > 0) {
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<int64_t> item_count(items, 0);
      std::vector<int64_t> user_count(users, 0);
      for (size_t u = 0; u < users; ++u)
        for (size_t k = 0; k < keep[u].size(); ++k)
          if (keep[u][k]) {
            ++user_count[u];
            ++item_count[static_cast<size_t>(d.sequences[u][k])];
          }
      for (size_t u = 0; u < users; ++u)
        if (user_alive[u] && user_count[u] < o.k_core) user_alive[u] = 0, changed = true;
      for (size_t i = 1; i < items; ++i)
        if (item_alive[i] && item_count[i] < o.k_core) item_alive[i] = 0, changed = true;
      for (size_t u = 0; u < users; ++u)
        for (size_t k = 0; k < keep[u].size(); ++k)
          keep[u][k] = keep[u][k] && user_alive[u] && item_alive[static_cast<size_t>(d.sequences[u][k])];
    }
  }

  // Filter the parallel per-interaction arrays, then cut each user to its last max_length interactions.
  auto filter = [&](auto& rows) {
    if (rows.empty()) return;
    for (size_t u = 0; u < users; ++u) {
      auto& r = rows[u];
      size_t w = 0;
      for (size_t k = 0; k < r.size(); ++k)
        if (keep[u][k]) r[w++] = r[k];
      r.resize(w);
      keep_last(r, o.max_length);
    }
  };
  filter(d.timestamps);
  filter(d.ratings);
  filter(d.sequences);

  // Surviving users are those with interactions left; surviving items those that still occur.
  std::vector<int64_t> user_rows, item_rows{0};
  std::vector<int64_t> new_user(users, -1), new_item(items, 0);
  for (size_t u = 0; u < users; ++u)
    if (!d.sequences[u].empty()) {
      new_user[u] = static_cast<int64_t>(user_rows.size());
      user_rows.push_back(static_cast<int64_t>(u));
    }
  std::vector<char> occurs(items, 0);
  for (auto& s : d.sequences)
    for (int64_t i : s) occurs[static_cast<size_t>(i)] = 1;
  for (size_t i = 1; i < items; ++i)
    if (occurs[i]) {
      new_item[i] = static_cast<int64_t>(item_rows.size());
      item_rows.push_back(static_cast<int64_t>(i));
    }
  if (user_rows.empty())
    throw InputError(where + "preprocessing leaves no interactions (k_core " + std::to_string(o.k_core) +
                     ", max_length " + std::to_string(o.max_length) + "); lower k_core");

  // Per-user tables.
  auto users_only = [&](auto& rows) {
    if (!rows.empty()) rows = take_rows(rows, user_rows);
  };
  d.sequences = take_rows(d.sequences, user_rows);
  users_only(d.timestamps);
  users_only(d.ratings);
  users_only(d.user_ids);
  take_side(d.user_side, user_rows);
  for (auto& f : d.user_features) f = take_dense(f, user_rows);
  if (!d.fixed_negatives.empty()) {
    std::vector<std::vector<int64_t>> neg;
    neg.reserve(user_rows.size());
    for (int64_t u : user_rows) neg.push_back(remap_items(d.fixed_negatives[static_cast<size_t>(u)], new_item));
    d.fixed_negatives = std::move(neg);
  }

  // Per-item tables and item ids everywhere.
  if (!d.item_ids.empty()) d.item_ids = take_rows(d.item_ids, item_rows);
  take_side(d.item_side, item_rows);
  for (auto& f : d.item_features) f = take_dense(f, item_rows);
  for (auto& s : d.sequences) s = remap_items(s, new_item);
  d.num_items = static_cast<int64_t>(item_rows.size()) - 1;

  if (d.given_split) {
    GivenSplit& g = *d.given_split;
    // One training row per user: rows of removed users go with them and the rows stay parallel to the
    // users. Otherwise the rows are only sequences, and those left empty are dropped.
    const bool per_user = g.train.size() == users;
    if (per_user) g.train = take_rows(g.train, user_rows);
    std::vector<std::vector<int64_t>> train;
    for (auto& s : g.train) {
      std::vector<int64_t> m = remap_items(s, new_item);
      keep_last(m, o.max_length);
      if (per_user || !m.empty()) train.push_back(std::move(m));
    }
    g.train = std::move(train);
    for (auto* cases : {&g.valid, &g.test}) {
      std::vector<EvalCase> out;
      for (auto& c : *cases) {
        if (c.user < 0 || static_cast<size_t>(c.user) >= users || new_user[static_cast<size_t>(c.user)] < 0) continue;
        if (c.target < 1 || c.target >= static_cast<int64_t>(items) || new_item[static_cast<size_t>(c.target)] == 0)
          continue;
        out.push_back(EvalCase{new_user[static_cast<size_t>(c.user)], remap_items(c.history, new_item),
                               new_item[static_cast<size_t>(c.target)], remap_items(c.negatives, new_item)});
      }
      *cases = std::move(out);
    }
  }
}

}  // namespace xrec::engine
