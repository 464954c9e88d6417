#include "xrec/data/features.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"

namespace xrec::engine {
namespace {

// SplitMix64 finaliser: spreads (seed, bucket) into well-mixed 64-bit seeds for the per-bucket generator.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Row `bucket` of the virtual [buckets, dim] Gaussian projection matrix. std::normal_distribution is
// implementation defined, so the normals come from our own Box-Muller over std::mt19937_64 (which the
// standard fixes bit for bit).
void gaussian_row(uint64_t seed, int64_t bucket, std::vector<double>& out) {
  std::mt19937_64 gen(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(bucket)));
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (size_t j = 0; j < out.size(); j += 2) {
    const double u1 = static_cast<double>((gen() >> 11) + 1) * 0x1p-53;  // (0, 1]: log stays finite
    const double u2 = static_cast<double>(gen() >> 11) * 0x1p-53;        // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[j] = r * std::cos(kTwoPi * u2);
    if (j + 1 < out.size()) out[j + 1] = r * std::sin(kTwoPi * u2);
  }
}

void check_rows(size_t found, int64_t rows, const std::string& kind, const std::string& field) {
  if (static_cast<int64_t>(found) != rows)
    throw InputError(kind + " field '" + field + "' has " + std::to_string(found) + " rows, expected " +
                     std::to_string(rows));
}

// Replaces the feature of the same name, else appends (building features twice is idempotent).
void put_feature(std::vector<DenseFeature>& features, DenseFeature f) {
  for (auto& existing : features)
    if (existing.name == f.name) {
      existing = std::move(f);
      return;
    }
  features.push_back(std::move(f));
}

void zero_row0(DenseFeature& f) { std::fill(f.values.begin(), f.values.begin() + f.dim, 0.0f); }

// ---- .npy -----------------------------------------------------------------------------------------

uint64_t read_le(const std::string& bytes, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

// The value after `'key':` in the header's Python dict literal, up to the next top-level ',' or '}'.
std::string_view npy_field(std::string_view header, const std::string& key, const std::string& path) {
  size_t pos = std::string_view::npos;
  for (const char* quote : {"'", "\""}) {
    pos = header.find(quote + key + quote);
    if (pos != std::string_view::npos) {
      pos += key.size() + 2;
      break;
    }
  }
  if (pos == std::string_view::npos)
    throw InputError("'" + path + "': the .npy header has no '" + key + "' entry: " + std::string(header));
  while (pos < header.size() && (header[pos] == ' ' || header[pos] == ':')) ++pos;
  size_t end = pos;
  int depth = 0;
  while (end < header.size()) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    if (depth < 0) break;
    ++end;
  }
  if (depth > 0) throw InputError("'" + path + "': unterminated tuple in the .npy header: " + std::string(header));
  std::string_view v = header.substr(pos, end - pos);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

DenseFeature read_npy(const std::string& bytes, const std::string& path, int64_t expected_rows,
                      const std::string& name) {
  const std::string where = "'" + path + "': ";
  if (bytes.size() < 10) throw InputError(where + "truncated .npy file: " + std::to_string(bytes.size()) + " bytes");
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  size_t header_start = 0, header_len = 0;
  if (major == 1) {
    header_start = 10;
    header_len = read_le(bytes, 8, 2);
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InputError(where + "truncated .npy file: " + std::to_string(bytes.size()) + " bytes");
    header_start = 12;
    header_len = read_le(bytes, 8, 4);
  } else {
    throw InputError(where + ".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                     ", expected 1.0, 2.0 or 3.0");
  }
  if (header_start + header_len > bytes.size())
    throw InputError(where + "truncated .npy header: " + std::to_string(header_len) + " bytes announced, " +
                     std::to_string(bytes.size() - header_start) + " present");
  const std::string_view header(bytes.data() + header_start, header_len);

  std::string_view descr = npy_field(header, "descr", path);
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) descr = descr.substr(1, descr.size() - 2);
  size_t width = 0;
  if (descr == "<f4") width = 4;
  else if (descr == "<f8") width = 8;
  else
    throw InputError(where + "dtype '" + std::string(descr) +
                     "', expected '<f4' (float32) or '<f8' (float64), little-endian");
  std::string_view order = npy_field(header, "fortran_order", path);
  if (order == "True")
    throw InputError(where + "array is in Fortran order, expected C order (save np.ascontiguousarray(x))");
  if (order != "False") throw InputError(where + "fortran_order is '" + std::string(order) + "', expected False");

  std::string_view shape_text = npy_field(header, "shape", path);
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')')
    throw InputError(where + "shape '" + std::string(shape_text) + "' is not a tuple");
  std::vector<uint64_t> shape;
  const std::string inside(shape_text.substr(1, shape_text.size() - 2));  // outlives the views below
  for (auto part : split_whitespace(inside)) {
    // parts look like "12," or "3": strip commas, parse non-negative integers.
    std::string token(part);
    token.erase(std::remove(token.begin(), token.end(), ','), token.end());
    if (token.empty()) continue;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec != std::errc() || end != token.data() + token.size())
      throw InputError(where + "shape '" + std::string(shape_text) + "' has a non-integer entry '" + token + "'");
    shape.push_back(v);
  }
  if (shape.size() != 2)
    throw InputError(where + "shape " + std::string(shape_text) + " has " + std::to_string(shape.size()) +
                     " dimensions, expected a 2-D array [rows, dim]");
  const uint64_t rows = shape[0], dim = shape[1];
  if (static_cast<int64_t>(rows) != expected_rows)
    throw InputError(where + "vectors '" + name + "' have " + std::to_string(rows) + " rows, expected " +
                     std::to_string(expected_rows));
  if (dim == 0) throw InputError(where + "vectors '" + name + "' have dimension 0, expected at least 1");
  const size_t data_start = header_start + header_len;
  const uint64_t present = bytes.size() - data_start;
  if (rows > 0 && dim > present / width / rows + 1)  // guards the product below against overflow
    throw InputError(where + "truncated data: shape (" + std::to_string(rows) + ", " + std::to_string(dim) +
                     ") needs more than the " + std::to_string(present) + " bytes present");
  const uint64_t needed = rows * dim * width;
  if (present != needed)
    throw InputError(where + "data has " + std::to_string(present) + " bytes, expected " + std::to_string(needed) +
                     " for shape (" + std::to_string(rows) + ", " + std::to_string(dim) + ") of " +
                     std::string(descr) + (present < needed ? " (truncated file)" : ""));

  DenseFeature f;
  f.name = name;
  f.dim = static_cast<int64_t>(dim);
  f.values.resize(rows * dim);
  for (uint64_t i = 0; i < rows * dim; ++i) {
    const uint64_t raw = read_le(bytes, data_start + i * width, width);
    double v;
    if (width == 4) {
      uint32_t r32 = static_cast<uint32_t>(raw);
      float x;
      std::memcpy(&x, &r32, 4);
      v = x;
    } else {
      std::memcpy(&v, &raw, 8);
    }
    if (!std::isfinite(v))
      throw InputError(where + "row " + std::to_string(i / dim) + ", column " + std::to_string(i % dim) +
                       " is not finite");
    f.values[i] = static_cast<float>(v);
  }
  return f;
}

// ---- text rows ------------------------------------------------------------------------------------

DenseFeature read_text_rows(const std::string& text, const std::string& path, int64_t expected_rows,
                            const std::string& name) {
  DenseFeature f;
  f.name = name;
  int64_t rows = 0;
  size_t first_line = 0;
  const auto lines = split_lines(text);
  for (size_t ln = 0; ln < lines.size(); ++ln) {
    const auto tokens = split_whitespace(lines[ln]);
    if (tokens.empty()) continue;  // blank lines (a trailing newline, spacing) carry no row
    const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
    if (rows == 0) {
      f.dim = static_cast<int64_t>(tokens.size());
      first_line = ln + 1;
    } else if (static_cast<int64_t>(tokens.size()) != f.dim) {
      throw InputError(where + std::to_string(tokens.size()) + " values, expected " + std::to_string(f.dim) +
                       " as on line " + std::to_string(first_line) + " (every row needs the same dimension)");
    }
    for (auto tok : tokens) {
      std::string_view t = tok;
      if (!t.empty() && t.front() == '+') t.remove_prefix(1);  // from_chars rejects a leading '+'
      double v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || end != t.data() + t.size())
        throw InputError(where + "'" + std::string(tok) + "' is not a number");
      if (!std::isfinite(v)) throw InputError(where + "'" + std::string(tok) + "' is not a finite number");
      f.values.push_back(static_cast<float>(v));
    }
    ++rows;
  }
  if (rows != expected_rows)
    throw InputError("'" + path + "': vectors '" + name + "' have " + std::to_string(rows) + " rows, expected " +
                     std::to_string(expected_rows) + " (one non-blank line per row)");
  return f;
}

}  // namespace

// ---- text -------------------------------------------------------------------------------------------

std::vector<std::string> text_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    // ASCII tests by hand: std::isalnum/tolower depend on the locale.
    if (c >= 'A' && c <= 'Z') cur.push_back(static_cast<char>(c - 'A' + 'a'));
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) cur.push_back(ch);
    else if (!cur.empty()) tokens.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<SparseRow> tfidf_rows(const std::vector<TextFeature>& fields, int64_t rows, int64_t buckets) {
  if (buckets <= 0) throw InputError("text_buckets is " + std::to_string(buckets) + ", expected at least 1");
  for (auto& f : fields) check_rows(f.values.size(), rows, "text", f.name);
  std::vector<SparseRow> out(static_cast<size_t>(rows));
  std::unordered_map<int64_t, int64_t> df;  // lookups only: never iterated into the output
  int64_t documents = 0;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> hashed;
    for (auto& f : fields)
      for (auto& tok : text_tokens(f.values[static_cast<size_t>(r)]))
        hashed.push_back(static_cast<int64_t>(fnv1a64(tok) % static_cast<uint64_t>(buckets)));
    if (hashed.empty()) continue;
    ++documents;
    std::sort(hashed.begin(), hashed.end());
    SparseRow& row = out[static_cast<size_t>(r)];
    for (int64_t b : hashed) {
      if (!row.empty() && row.back().first == b) row.back().second += 1;
      else row.emplace_back(b, 1.0), ++df[b];
    }
  }
  for (auto& row : out) {
    double norm = 0;
    for (auto& [b, w] : row) {
      w *= std::log((1.0 + static_cast<double>(documents)) / (1.0 + static_cast<double>(df[b]))) + 1.0;
      norm += w * w;
    }
    norm = std::sqrt(norm);
    for (auto& entry : row) entry.second /= norm;  // norm > 0: every weight is >= 1 * idf >= 1
  }
  return out;
}

DenseFeature text_tfidf(const std::vector<TextFeature>& fields, int64_t rows, int64_t dim, int64_t buckets,
                        uint64_t seed) {
  if (dim <= 0) throw InputError("text_dim is " + std::to_string(dim) + ", expected at least 1");
  const std::vector<SparseRow> sparse = tfidf_rows(fields, rows, buckets);
  // Bucket-major order: each bucket's projection row is generated once, and every output row still adds
  // its terms in ascending bucket order, so the sums are the same on every run.
  std::vector<std::tuple<int64_t, int64_t, double>> entries;  // (bucket, row, weight)
  for (int64_t r = 0; r < rows; ++r)
    for (auto& [b, w] : sparse[static_cast<size_t>(r)]) entries.emplace_back(b, r, w);
  std::sort(entries.begin(), entries.end());

  const auto d = static_cast<size_t>(dim);
  std::vector<double> acc(static_cast<size_t>(rows) * d, 0.0);
  std::vector<double> g(d);
  for (size_t i = 0; i < entries.size();) {
    const int64_t bucket = std::get<0>(entries[i]);
    gaussian_row(seed, bucket, g);
    for (; i < entries.size() && std::get<0>(entries[i]) == bucket; ++i) {
      double* row = acc.data() + static_cast<size_t>(std::get<1>(entries[i])) * d;
      const double w = std::get<2>(entries[i]);
      for (size_t j = 0; j < d; ++j) row[j] += w * g[j];
    }
  }
  DenseFeature f;
  f.name = "text";
  f.dim = dim;
  f.values.assign(acc.size(), 0.0f);
  for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
    const double* row = acc.data() + r * d;
    double norm = 0;
    for (size_t j = 0; j < d; ++j) norm += row[j] * row[j];
    if (norm == 0) continue;  // no text: stays zero
    norm = std::sqrt(norm);
    for (size_t j = 0; j < d; ++j) f.values[r * d + j] = static_cast<float>(row[j] / norm);
  }
  return f;
}

// ---- categorical and numeric ------------------------------------------------------------------------

DenseFeature multi_hot(const std::vector<CategoricalFeature>& fields, int64_t rows) {
  DenseFeature f;
  f.name = "attributes";
  for (auto& field : fields) {
    check_rows(field.values.size(), rows, "categorical", field.name);
    if (field.vocab < 0) throw InputError("categorical field '" + field.name + "' has a negative vocabulary size");
    f.dim += field.vocab;
  }
  if (f.dim == 0) throw InputError("no categorical values to encode: every field has an empty vocabulary");
  f.values.assign(static_cast<size_t>(rows * f.dim), 0.0f);
  int64_t offset = 0;
  for (auto& field : fields) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t id : field.values[static_cast<size_t>(r)]) {
        if (id == 0) continue;  // missing
        if (id < 0 || id > field.vocab)
          throw InputError("categorical field '" + field.name + "', row " + std::to_string(r) + ": id " +
                           std::to_string(id) + ", expected 0.." + std::to_string(field.vocab));
        f.values[static_cast<size_t>(r * f.dim + offset + id - 1)] = 1.0f;
      }
    offset += field.vocab;
  }
  return f;
}

DenseFeature numeric_encoding(const NumericFeature& field, const std::string& method, int64_t dim) {
  const std::string where = "numeric field '" + field.name + "': ";
  if (method != "bucket" && method != "sinusoidal")
    throw InputError(where + "encoding '" + method + "', expected bucket or sinusoidal");
  if (dim < 1 || (method == "sinusoidal" && dim % 2 != 0))
    throw InputError(where + "numeric_dim is " + std::to_string(dim) + ", expected " +
                     (method == "sinusoidal" ? "a positive even number (sin/cos pairs)" : "at least 1"));
  const auto rows = static_cast<int64_t>(field.values.size());
  std::vector<double> present;
  for (double v : field.values)
    if (!std::isnan(v)) present.push_back(v);
  DenseFeature f;
  f.name = "numeric:" + field.name;
  f.dim = dim;
  f.values.assign(static_cast<size_t>(rows * dim), 0.0f);
  if (present.empty()) return f;  // nothing known: every row reads as missing

  if (method == "bucket") {
    // Boundary k (k = 1..dim-1) is the value at quantile k/dim; a value's bucket counts the boundaries at
    // or below it, so equal values always share a bucket.
    std::sort(present.begin(), present.end());
    const auto n = static_cast<int64_t>(present.size());
    std::vector<double> bounds;
    for (int64_t k = 1; k < dim; ++k) bounds.push_back(present[static_cast<size_t>(k * n / dim)]);
    for (int64_t r = 0; r < rows; ++r) {
      const double v = field.values[static_cast<size_t>(r)];
      if (std::isnan(v)) continue;
      const auto b = std::upper_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
      f.values[static_cast<size_t>(r * dim + b)] = 1.0f;
    }
    return f;
  }

  double mean = 0, var = 0;
  for (double v : present) mean += v;
  mean /= static_cast<double>(present.size());
  for (double v : present) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(present.size()));
  // Frequencies from 0.1 to 10 (geometric): about +-3 standard deviations span from a fraction of a
  // period (coarse position) to many periods (fine differences).
  const int64_t half = dim / 2;
  std::vector<double> freq(static_cast<size_t>(half), 1.0);
  if (half > 1)
    for (int64_t k = 0; k < half; ++k)
      freq[static_cast<size_t>(k)] = 0.1 * std::pow(100.0, static_cast<double>(k) / static_cast<double>(half - 1));
  for (int64_t r = 0; r < rows; ++r) {
    const double v = field.values[static_cast<size_t>(r)];
    if (std::isnan(v)) continue;
    const double z = sd > 0 ? (v - mean) / sd : 0.0;
    for (int64_t k = 0; k < half; ++k) {
      f.values[static_cast<size_t>(r * dim + 2 * k)] = static_cast<float>(std::sin(freq[static_cast<size_t>(k)] * z));
      f.values[static_cast<size_t>(r * dim + 2 * k + 1)] = static_cast<float>(std::cos(freq[static_cast<size_t>(k)] * z));
    }
  }
  return f;
}

// ---- precomputed vectors ----------------------------------------------------------------------------

DenseFeature read_vectors(const std::string& path, int64_t expected_rows, const std::string& name) {
  const std::string bytes = read_file(path);
  static const std::string kMagic = "\x93NUMPY";
  if (bytes.compare(0, kMagic.size(), kMagic) == 0) return read_npy(bytes, path, expected_rows, name);
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0)
    throw InputError("'" + path + "': not a NumPy .npy file (it does not start with the \\x93NUMPY magic)");
  return read_text_rows(bytes, path, expected_rows, name);
}

// ---- all together -----------------------------------------------------------------------------------

void build_features(DomainData& data, const FeatureOptions& o) {
  const std::string where = "dataset '" + data.name + "': ";
  if (o.text_dim < 0) throw InputError(where + "text_features is " + std::to_string(o.text_dim) + ", expected >= 0");
  if (o.numeric != "none" && o.numeric != "bucket" && o.numeric != "sinusoidal")
    throw InputError(where + "numeric_features is '" + o.numeric + "', expected none, bucket or sinusoidal");
  const int64_t item_rows = data.num_items + 1, user_rows = data.num_users();
  const SideInfo &items = data.item_side, &users = data.user_side;

  if (o.text_dim > 0) {
    if (items.text.empty() && users.text.empty())
      throw InputError(where + "text_features: " + std::to_string(o.text_dim) +
                       " asks for text features, but the dataset has no text fields");
    if (!items.text.empty()) {
      DenseFeature f = text_tfidf(items.text, item_rows, o.text_dim, o.text_buckets, o.seed);
      zero_row0(f);
      put_feature(data.item_features, std::move(f));
    }
    if (!users.text.empty())
      put_feature(data.user_features, text_tfidf(users.text, user_rows, o.text_dim, o.text_buckets, o.seed));
  }
  if (o.attributes) {
    if (items.categorical.empty() && users.categorical.empty())
      throw InputError(where + "attribute_features: true asks for multi-hot attributes, but the dataset has no "
                       "categorical fields");
    if (!items.categorical.empty()) {
      DenseFeature f = multi_hot(items.categorical, item_rows);
      zero_row0(f);
      put_feature(data.item_features, std::move(f));
    }
    if (!users.categorical.empty()) put_feature(data.user_features, multi_hot(users.categorical, user_rows));
  }
  if (o.numeric != "none") {
    if (items.numeric.empty() && users.numeric.empty())
      throw InputError(where + "numeric_features: " + o.numeric + " asks for numeric encodings, but the dataset has no "
                       "numeric fields");
    for (auto& field : items.numeric) {
      check_rows(field.values.size(), item_rows, "item numeric", field.name);
      DenseFeature f = numeric_encoding(field, o.numeric, o.numeric_dim);
      zero_row0(f);
      put_feature(data.item_features, std::move(f));
    }
    for (auto& field : users.numeric) {
      check_rows(field.values.size(), user_rows, "user numeric", field.name);
      put_feature(data.user_features, numeric_encoding(field, o.numeric, o.numeric_dim));
    }
  }
  if (!o.vector_file.empty()) {
    DenseFeature f = read_vectors(o.vector_file, data.num_items, "vectors");
    f.values.insert(f.values.begin(), static_cast<size_t>(f.dim), 0.0f);  // row 0: padding
    put_feature(data.item_features, std::move(f));
  }
}

}  // namespace xrec::engine
