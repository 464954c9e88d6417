#pragma once
// Preprocessing applied to a loaded domain before it is split, recorded as run params (they are config
// keys of each data section). Torch-free.
#include <cstdint>

#include "xrec/api/data.hpp"

namespace xrec::engine {

struct PreprocessOptions {
  int64_t k_core = 0;       // > 0: repeatedly drop users and items with fewer than k interactions
  int64_t max_length = 0;   // > 0: keep only each user's last max_length interactions
};

// Applies the options and renumbers users and items densely (1..n for items, dropped ones removed),
// keeping user_ids/item_ids, timestamps, ratings, side info, features, fixed negatives and the given
// split consistent with the new ids. Throws xrec::InputError if nothing is left.
void preprocess(DomainData& data, const PreprocessOptions& options);

}  // namespace xrec::engine
