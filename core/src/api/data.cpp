#include "xrec/api/data.hpp"

#include "xrec/api/errors.hpp"

namespace xrec {

int64_t DomainData::num_interactions() const {
  int64_t n = 0;
  for (auto& s : sequences) n += static_cast<int64_t>(s.size());
  return n;
}

void DomainData::validate() const {
  const std::string where = "dataset '" + name + "': ";
  if (num_items <= 0) throw InputError(where + "has no items");
  for (size_t u = 0; u < sequences.size(); ++u)
    for (int64_t i : sequences[u])
      if (i < 1 || i > num_items)
        throw InputError(where + "user index " + std::to_string(u) + " has item id " + std::to_string(i) +
                         ", expected 1.." + std::to_string(num_items));
  if (!user_ids.empty() && user_ids.size() != sequences.size())
    throw InputError(where + "user id map has " + std::to_string(user_ids.size()) + " entries, expected " +
                     std::to_string(sequences.size()));
  if (!item_ids.empty() && static_cast<int64_t>(item_ids.size()) != num_items + 1)
    throw InputError(where + "item id map has " + std::to_string(item_ids.size()) + " entries, expected " +
                     std::to_string(num_items + 1) + " (padding + items)");
  auto parallel = [&](const auto& rows, const char* what) {
    if (rows.empty()) return;
    if (rows.size() != sequences.size())
      throw InputError(where + what + " cover " + std::to_string(rows.size()) + " users, expected " +
                       std::to_string(sequences.size()));
    for (size_t u = 0; u < rows.size(); ++u)
      if (rows[u].size() != sequences[u].size())
        throw InputError(where + what + " of user index " + std::to_string(u) + " has " + std::to_string(rows[u].size()) +
                         " entries for " + std::to_string(sequences[u].size()) + " items");
  };
  parallel(timestamps, "timestamps");
  parallel(ratings, "ratings");
  auto dense = [&](const std::vector<DenseFeature>& fs, int64_t rows, const char* what) {
    for (auto& f : fs)
      if (f.dim <= 0 || static_cast<int64_t>(f.values.size()) != rows * f.dim)
        throw InputError(where + what + " feature '" + f.name + "' has " + std::to_string(f.values.size()) +
                         " values, expected rows * dim = " + std::to_string(rows) + " * " + std::to_string(f.dim));
  };
  dense(item_features, num_items + 1, "item");
  dense(user_features, num_users(), "user");
  auto side = [&](const SideInfo& s, int64_t rows, const char* what) {
    auto check = [&](size_t n, const std::string& name) {
      if (static_cast<int64_t>(n) != rows)
        throw InputError(where + what + " field '" + name + "' has " + std::to_string(n) + " rows, expected " +
                         std::to_string(rows));
    };
    for (auto& f : s.categorical) {
      check(f.values.size(), f.name);
      for (auto& row : f.values)
        for (int64_t v : row)
          if (v < 0 || v > f.vocab)
            throw InputError(where + what + " field '" + f.name + "' has id " + std::to_string(v) + ", expected 0.." +
                             std::to_string(f.vocab));
    }
    for (auto& f : s.numeric) check(f.values.size(), f.name);
    for (auto& f : s.text) check(f.values.size(), f.name);
  };
  side(item_side, num_items + 1, "item");
  side(user_side, num_users(), "user");
  if (given_split) {
    auto in_range = [&](int64_t i) { return i >= 1 && i <= num_items; };
    for (auto* cases : {&given_split->valid, &given_split->test})
      for (auto& c : *cases)
        if (c.user < 0 || c.user >= num_users() || !in_range(c.target))
          throw InputError(where + "given split has a case for user index " + std::to_string(c.user) + ", item " +
                           std::to_string(c.target) + " outside the domain");
  }
  if (!fixed_negatives.empty() && fixed_negatives.size() != sequences.size())
    throw InputError(where + "fixed negatives cover " + std::to_string(fixed_negatives.size()) +
                     " users, expected " + std::to_string(sequences.size()));
}

}  // namespace xrec
