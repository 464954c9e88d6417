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
  if (!timestamps.empty() && timestamps.size() != sequences.size())
    throw InputError(where + "timestamps cover " + std::to_string(timestamps.size()) + " users, expected " +
                     std::to_string(sequences.size()));
  if (!user_ids.empty() && user_ids.size() != sequences.size())
    throw InputError(where + "user id map has " + std::to_string(user_ids.size()) + " entries, expected " +
                     std::to_string(sequences.size()));
  if (!item_ids.empty() && static_cast<int64_t>(item_ids.size()) != num_items + 1)
    throw InputError(where + "item id map has " + std::to_string(item_ids.size()) + " entries, expected " +
                     std::to_string(num_items + 1) + " (padding + items)");
  for (auto& f : item_features)
    if (f.dim <= 0 || static_cast<int64_t>(f.values.size()) != (num_items + 1) * f.dim)
      throw InputError(where + "item feature '" + f.name + "' has " + std::to_string(f.values.size()) +
                       " values, expected (num_items + 1) * dim = " + std::to_string((num_items + 1) * f.dim));
  if (!fixed_negatives.empty() && fixed_negatives.size() != sequences.size())
    throw InputError(where + "fixed negatives cover " + std::to_string(fixed_negatives.size()) +
                     " users, expected " + std::to_string(sequences.size()));
}

}  // namespace xrec
