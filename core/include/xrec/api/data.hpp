#pragma once
// Interaction data as dataset plugins produce it. Deliberately free of LibTorch so that dataset plugins
// compile fast; the engine turns it into tensors.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/export.hpp"

namespace xrec {

// Dense per-row vectors (text embeddings, multi-hot attributes, precomputed features): row-major
// [rows, dim]. For items rows = num_items + 1 and row 0 (padding) is all zeros; for users rows = num_users.
struct DenseFeature {
  std::string name;
  int64_t dim = 0;
  std::vector<float> values;
};

// A categorical field with one or several values per row (category, brand, genres, occupation).
// Ids run 1..vocab (0 = missing); labels[id] is the raw value ([0] = "").
struct CategoricalFeature {
  std::string name;
  int64_t vocab = 0;
  std::vector<std::vector<int64_t>> values;  // one list per row
  std::vector<std::string> labels;
};

// A numeric field per row (year, price, age); NaN = missing.
struct NumericFeature {
  std::string name;
  std::vector<double> values;
};

// Free text per row (title, categories, brand); "" = none.
struct TextFeature {
  std::string name;
  std::vector<std::string> values;
};

// Raw side information of items (rows = num_items + 1, row 0 = padding) or users (rows = num_users),
// as the files give it. The engine's feature builder turns it into DenseFeature vectors.
struct SideInfo {
  std::vector<CategoricalFeature> categorical;
  std::vector<NumericFeature> numeric;
  std::vector<TextFeature> text;

  bool empty() const { return categorical.empty() && numeric.empty() && text.empty(); }
};

// One evaluation case: rank `target` for `user` given `history` (time order, no padding). With the
// sampled protocol, `negatives` are the candidates ranked against the target.
struct EvalCase {
  int64_t user = 0;
  std::vector<int64_t> history;
  int64_t target = 0;
  std::vector<int64_t> negatives;
};

// The split some datasets ship with (UniSRec-style .train/.valid/.test files), used by
// `split.method: given`. Train sequences are time-ordered; cases index users of the domain.
struct GivenSplit {
  std::vector<std::vector<int64_t>> train;
  std::vector<EvalCase> valid, test;
};

// One domain: users with time-ordered item sequences. Item ids run 1..num_items, 0 is padding; users
// are indexed 0..num_users-1 in the order of `sequences`.
struct XREC_API DomainData {
  std::string name;
  int64_t num_items = 0;
  std::vector<std::vector<int64_t>> sequences;
  std::vector<std::vector<int64_t>> timestamps;        // empty, or parallel to sequences (same lengths)
  std::vector<std::vector<float>> ratings;             // empty, or parallel to sequences (explicit feedback)
  std::vector<std::string> user_ids;                   // raw user id per user index (id map)
  std::vector<std::string> item_ids;                   // raw item id per item id; [0] = "" (padding)
  SideInfo item_side, user_side;                       // raw side information
  std::vector<DenseFeature> item_features;             // dense item vectors (built or read from files)
  std::vector<DenseFeature> user_features;             // dense user vectors
  std::vector<std::vector<int64_t>> fixed_negatives;   // optional per-user evaluation negatives
  std::optional<GivenSplit> given_split;               // the dataset's own split, if it ships one
  std::vector<std::string> source_files;               // files read, for provenance and cache keys

  int64_t num_users() const { return static_cast<int64_t>(sequences.size()); }
  int64_t num_interactions() const;
  // Throws xrec::InputError if ids are out of range or the parallel arrays disagree in size.
  void validate() const;
};

}  // namespace xrec
