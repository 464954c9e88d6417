#pragma once
// Interaction data as dataset plugins produce it. Deliberately free of LibTorch so that dataset plugins
// compile fast; the engine turns it into tensors.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/export.hpp"

namespace xrec {

// Dense per-item vectors (text, attributes, precomputed embeddings): row-major [num_items + 1, dim],
// row 0 (padding) all zeros.
struct DenseFeature {
  std::string name;
  int64_t dim = 0;
  std::vector<float> values;
};

// One domain: users with time-ordered item sequences. Item ids run 1..num_items, 0 is padding; users
// are indexed 0..num_users-1 in the order of `sequences`.
struct XREC_API DomainData {
  std::string name;
  int64_t num_items = 0;
  std::vector<std::vector<int64_t>> sequences;
  std::vector<std::vector<int64_t>> timestamps;        // empty, or parallel to sequences
  std::vector<std::string> user_ids;                   // raw user id per user index (id map)
  std::vector<std::string> item_ids;                   // raw item id per item id; [0] = "" (padding)
  std::vector<DenseFeature> item_features;
  std::vector<std::vector<int64_t>> fixed_negatives;   // optional per-user evaluation negatives
  std::vector<std::string> source_files;               // files read, for provenance and cache keys

  int64_t num_users() const { return static_cast<int64_t>(sequences.size()); }
  int64_t num_interactions() const;
  // Throws xrec::InputError if ids are out of range or the parallel arrays disagree in size.
  void validate() const;
};

}  // namespace xrec
