#pragma once
// Side information -> dense vectors the models consume. Deterministic: the same input and seed give the
// same vectors on every machine. Torch-free.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xrec/api/data.hpp"

namespace xrec::engine {

struct FeatureOptions {
  int64_t text_dim = 0;              // > 0: hashed TF-IDF of every text field, randomly projected to text_dim
  int64_t text_buckets = 1 << 18;    // hash space of the TF-IDF vocabulary
  bool attributes = false;           // multi-hot of every categorical field
  std::string numeric = "none";      // none | bucket | sinusoidal: encoding of every numeric field
  int64_t numeric_dim = 16;          // buckets, or sinusoid dimensions
  std::string vector_file;           // precomputed item vectors: .npy (2-D float32/float64) or text rows
  uint64_t seed = 0;
};

// Text -> lowercase alphanumeric tokens -> hashed term counts -> TF-IDF (smoothed idf, L2 rows) -> a
// seeded Gaussian random projection to `dim`, rows L2-normalised. Rows with no text are zeros. The
// projection matrix is never stored: row `bucket` is drawn on the fly from std::mt19937_64 seeded with
// SplitMix64(SplitMix64(seed) ^ bucket), through our Box-Muller (std::normal_distribution is implementation
// defined; libm's log/sin/cos, correctly rounded to within an ulp, are the only platform dependence left).
DenseFeature text_tfidf(const std::vector<TextFeature>& fields, int64_t rows, int64_t dim, int64_t buckets,
                        uint64_t seed);
// One column per (field, id); a row's columns are 1 for its values.
DenseFeature multi_hot(const std::vector<CategoricalFeature>& fields, int64_t rows);
// bucket: one-hot of the value's quantile bucket (boundary k = the present values' k/dim quantile; missing =
// all zeros); sinusoidal: (sin, cos) pairs of the standardised value at dim/2 geometric frequencies from 0.1
// to 10 (missing = zeros). The name is "numeric:<field>".
DenseFeature numeric_encoding(const NumericFeature& field, const std::string& method, int64_t dim);
// Reads [rows, dim] vectors: NumPy .npy (version 1-3, little-endian float32/float64, C order) or
// whitespace-separated text, one row per line. Throws xrec::InputError naming the file on any mismatch.
DenseFeature read_vectors(const std::string& path, int64_t expected_rows, const std::string& name);

// The steps of text_tfidf, exposed so that tests can check them by hand.
// Tokens: maximal runs of ASCII letters/digits (lowercased) and bytes >= 0x80 (UTF-8 letters stay whole).
std::vector<std::string> text_tokens(std::string_view text);
// FNV-1a 64-bit hash of the bytes; a token's bucket is fnv1a64(token) % buckets.
uint64_t fnv1a64(std::string_view bytes);
// (bucket, weight) pairs of one row, sorted by bucket.
using SparseRow = std::vector<std::pair<int64_t, double>>;
// Per row: all text fields' tokens together form one document; weight = count * idf with
// idf = ln((1 + N) / (1 + df)) + 1 (N = rows with any token, df = rows holding the bucket); rows L2-normalised.
std::vector<SparseRow> tfidf_rows(const std::vector<TextFeature>& fields, int64_t rows, int64_t buckets);

// Builds the configured item (and user) features into data.item_features / data.user_features, from the
// item_side / user_side fields under the current ids: "text", "attributes", "numeric:<field>" per numeric
// field, and "vectors" (item side: vector_file has one row per item, item 1 first; row 0 stays zero).
// A feature of the same name is replaced. Throws xrec::InputError for bad options or when an option asks
// for a kind of field neither side has.
void build_features(DomainData& data, const FeatureOptions& options);

}  // namespace xrec::engine
