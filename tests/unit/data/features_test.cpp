#include "xrec/data/features.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

using namespace xrec;
using namespace xrec::engine;
namespace fs = std::filesystem;

using xrec::test::expect_input_error;
using xrec::test::TempDir;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A .npy file: magic, version, little-endian header length, the dict header padded to 64 bytes, data.
std::string npy(const std::string& descr, const std::string& fortran, const std::string& shape, const std::string& data,
                int major = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = dict.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + dict + data;
}

template <class T>
std::string raw(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());  // the test machines are little-endian, as .npy '<'
  return bytes;
}

double cosine(const DenseFeature& f, int64_t a, int64_t b) {
  double dot = 0, na = 0, nb = 0;
  for (int64_t j = 0; j < f.dim; ++j) {
    const double x = f.values[static_cast<size_t>(a * f.dim + j)], y = f.values[static_cast<size_t>(b * f.dim + j)];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / std::sqrt(na * nb);
}

double row_norm(const DenseFeature& f, int64_t r) {
  double n = 0;
  for (int64_t j = 0; j < f.dim; ++j) n += std::pow(f.values[static_cast<size_t>(r * f.dim + j)], 2);
  return std::sqrt(n);
}

}  // namespace

// ---- text -------------------------------------------------------------------------------------------

TEST(Features, TokensAreLowercaseAlphanumericRunsAndKeepUtf8Letters) {
  EXPECT_EQ(text_tokens("Hello, World! R2-D2 caf\xc3\xa9  x"),
            (std::vector<std::string>{"hello", "world", "r2", "d2", "caf\xc3\xa9", "x"}));
  EXPECT_TRUE(text_tokens(" .,;- ").empty());
}

TEST(Features, Fnv1a64MatchesTheReferenceVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Features, TfIdfOfAThreeDocumentCorpusByHand) {
  // Row 0 is padding. Documents: "red apple", "green apple", "red red car": N = 3, df(red) = df(apple) = 2,
  // df(green) = df(car) = 1; idf = ln(4/3) + 1 = a for red/apple, ln(4/2) + 1 = b for green/car.
  const int64_t buckets = 1 << 20;
  TextFeature title{"title", {"", "Red apple", "green APPLE", "red, red"}};
  TextFeature extra{"brand", {"", "", "", "car"}};  // fields of a row form one document
  auto rows = tfidf_rows({title, extra}, 4, buckets);
  auto bucket = [&](const char* t) { return static_cast<int64_t>(fnv1a64(t) % buckets); };
  std::set<int64_t> distinct{bucket("red"), bucket("apple"), bucket("green"), bucket("car")};
  ASSERT_EQ(distinct.size(), 4u) << "test words collide; pick others";
  auto weight = [&](size_t row, const char* t) {
    for (auto& [b, w] : rows[row])
      if (b == bucket(t)) return w;
    return 0.0;
  };
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].empty());
  EXPECT_NEAR(weight(1, "red"), std::sqrt(0.5), 1e-12);  // a, a -> 1/sqrt(2) each
  EXPECT_NEAR(weight(1, "apple"), std::sqrt(0.5), 1e-12);
  EXPECT_NEAR(weight(2, "green"), 0.7959605415681652, 1e-12);  // b / sqrt(a^2 + b^2)
  EXPECT_NEAR(weight(2, "apple"), 0.6053485081062916, 1e-12);  // a / sqrt(a^2 + b^2)
  EXPECT_NEAR(weight(3, "red"), 0.8355915419449176, 1e-12);    // 2a / sqrt(4a^2 + b^2)
  EXPECT_NEAR(weight(3, "car"), 0.5493512310263033, 1e-12);    // b / sqrt(4a^2 + b^2)
  for (size_t r = 1; r < 4; ++r) {
    EXPECT_EQ(rows[r].size(), 2u);
    EXPECT_LT(rows[r][0].first, rows[r][1].first) << "sorted by bucket";
  }
}

TEST(Features, ProjectedTextIsUnitLengthDeterministicAndSeeded) {
  TextFeature t{"title", {"", "wireless bluetooth headphones", "", "stainless steel knife"}};
  DenseFeature a = text_tfidf({t}, 4, 32, 1 << 18, 7), b = text_tfidf({t}, 4, 32, 1 << 18, 7);
  DenseFeature c = text_tfidf({t}, 4, 32, 1 << 18, 8);
  EXPECT_EQ(a.name, "text");
  EXPECT_EQ(a.dim, 32);
  ASSERT_EQ(a.values.size(), 4u * 32u);
  EXPECT_EQ(a.values, b.values);  // bit for bit
  EXPECT_NE(a.values, c.values);
  EXPECT_EQ(row_norm(a, 0), 0.0);  // no text: zeros
  EXPECT_EQ(row_norm(a, 2), 0.0);
  EXPECT_NEAR(row_norm(a, 1), 1.0, 1e-6);
  EXPECT_NEAR(row_norm(a, 3), 1.0, 1e-6);
}

TEST(Features, ProjectionIsPinnedAcrossMachinesAndReleases) {
  // The projection is part of every cached and published feature: FNV-1a buckets, SplitMix64-seeded
  // mt19937_64 and our Box-Muller. Changing any of them changes these numbers, which were also computed by
  // an independent Python implementation of the documented method.
  TextFeature t{"title", {"", "red apple"}};
  DenseFeature f = text_tfidf({t}, 2, 4, 1 << 18, 0);
  const std::vector<float> pinned{-0.22537258f, -0.16882110f, 0.85129792f, 0.44271722f};
  ASSERT_EQ(f.values.size(), 8u);
  for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(f.values[4 + j], pinned[j], 1e-6) << "column " << j;
}

TEST(Features, SimilarTextsAreCloserThanUnrelatedOnesAfterProjection) {
  TextFeature t{"title",
                {"", "wireless noise cancelling bluetooth headphones black",
                 "bluetooth headphones with noise cancelling, wireless", "stainless steel chef knife 8 inch",
                 "organic green tea leaves loose", "wireless bluetooth speaker waterproof"}};
  // dim 256 keeps the projection's distortion small: these margins held for each of 200 seeds tried.
  DenseFeature f = text_tfidf({t}, 6, 256, 1 << 18, 1);
  const double same = cosine(f, 1, 2), partly = cosine(f, 1, 5), unrelated_a = cosine(f, 1, 3),
               unrelated_b = cosine(f, 1, 4);
  EXPECT_GT(same, 0.6);
  EXPECT_GT(same, partly + 0.2);
  EXPECT_GT(partly, unrelated_a);
  EXPECT_GT(partly, unrelated_b);
  EXPECT_LT(std::abs(unrelated_a), 0.3);
  EXPECT_LT(std::abs(unrelated_b), 0.3);
}

TEST(Features, TextErrors) {
  TextFeature t{"title", {"", "a"}};
  expect_input_error([&] { text_tfidf({t}, 3, 8, 16, 0); }, {"text field 'title'", "2 rows", "expected 3"});
  expect_input_error([&] { text_tfidf({t}, 2, 0, 16, 0); }, {"text_dim", "expected at least 1"});
  expect_input_error([&] { text_tfidf({t}, 2, 8, 0, 0); }, {"text_buckets", "expected at least 1"});
}

// ---- categorical and numeric ------------------------------------------------------------------------

TEST(Features, MultiHotHasOneColumnPerFieldAndValue) {
  CategoricalFeature genre{"genre", 3, {{}, {1, 3}, {2}}, {"", "action", "drama", "comedy"}};
  CategoricalFeature brand{"brand", 2, {{}, {0}, {2}}, {"", "acme", "globex"}};
  DenseFeature f = multi_hot({genre, brand}, 3);
  EXPECT_EQ(f.name, "attributes");
  ASSERT_EQ(f.dim, 5);
  EXPECT_EQ(f.values, (std::vector<float>{0, 0, 0, 0, 0,  //
                                          1, 0, 1, 0, 0,  // genre 1 and 3, brand missing
                                          0, 1, 0, 0, 1}));
  CategoricalFeature bad{"genre", 2, {{}, {3}}, {}};
  expect_input_error([&] { multi_hot({bad}, 2); }, {"'genre'", "row 1", "id 3", "expected 0..2"});
  expect_input_error([&] { multi_hot({genre}, 4); }, {"categorical field 'genre'", "3 rows", "expected 4"});
  CategoricalFeature empty{"none", 0, {{}, {}}, {}};
  expect_input_error([&] { multi_hot({empty}, 2); }, {"no categorical values"});
}

TEST(Features, NumericBucketsAreQuantilesOfThePresentValues) {
  NumericFeature year{"year", {kNaN, 1, 2, 3, 4, 5, 6, 7, 8}};
  DenseFeature f = numeric_encoding(year, "bucket", 4);  // boundaries 3, 5, 7
  EXPECT_EQ(f.name, "numeric:year");
  ASSERT_EQ(f.dim, 4);
  const std::vector<int> expected_bucket{-1, 0, 0, 1, 1, 2, 2, 3, 3};
  for (size_t r = 0; r < expected_bucket.size(); ++r)
    for (int b = 0; b < 4; ++b)
      EXPECT_EQ(f.values[r * 4 + static_cast<size_t>(b)], b == expected_bucket[r] ? 1.0f : 0.0f) << "row " << r;
  NumericFeature ties{"n", {5, 5, 5, 9}};
  DenseFeature g = numeric_encoding(ties, "bucket", 2);  // boundary 5: equal values share a bucket
  EXPECT_EQ(g.values, (std::vector<float>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(Features, NumericSinusoidalEncodesTheStandardisedValue) {
  NumericFeature price{"price", {kNaN, 1, 3}};  // mean 2, population sd 1: z = -1, +1
  DenseFeature f = numeric_encoding(price, "sinusoidal", 4);  // frequencies 0.1 and 10
  ASSERT_EQ(f.dim, 4);
  const std::vector<float> missing(4, 0.0f);
  EXPECT_EQ(std::vector<float>(f.values.begin(), f.values.begin() + 4), missing);
  const double z[] = {-1, 1};
  for (int r = 0; r < 2; ++r) {
    const float* row = f.values.data() + 4 * (r + 1);
    EXPECT_NEAR(row[0], std::sin(0.1 * z[r]), 1e-6);
    EXPECT_NEAR(row[1], std::cos(0.1 * z[r]), 1e-6);
    EXPECT_NEAR(row[2], std::sin(10 * z[r]), 1e-6);
    EXPECT_NEAR(row[3], std::cos(10 * z[r]), 1e-6);
  }
  NumericFeature none{"age", {kNaN, kNaN}};
  EXPECT_EQ(numeric_encoding(none, "sinusoidal", 2).values, std::vector<float>(4, 0.0f));
}

TEST(Features, NumericErrors) {
  NumericFeature x{"age", {1, 2}};
  expect_input_error([&] { numeric_encoding(x, "log", 4); }, {"'age'", "'log'", "expected bucket or sinusoidal"});
  expect_input_error([&] { numeric_encoding(x, "sinusoidal", 3); }, {"numeric_dim is 3", "even"});
  expect_input_error([&] { numeric_encoding(x, "bucket", 0); }, {"numeric_dim is 0", "at least 1"});
}

// ---- precomputed vectors ----------------------------------------------------------------------------

TEST(Features, ReadsTextRows) {
  TempDir dir("text");
  auto path = dir.write("v.txt", "0.5 -1 2e-1\n\n1\t2 +3\n");
  DenseFeature f = read_vectors(path, 2, "vectors");
  EXPECT_EQ(f.name, "vectors");
  EXPECT_EQ(f.dim, 3);
  EXPECT_EQ(f.values, (std::vector<float>{0.5f, -1.0f, 0.2f, 1.0f, 2.0f, 3.0f}));
}

TEST(Features, TextRowErrorsNameTheFileLineAndExpectation) {
  TempDir dir("text-errors");
  auto ragged = dir.write("ragged.txt", "1 2 3\n4 5\n");
  expect_input_error([&] { read_vectors(ragged, 2, "vectors"); }, {ragged + ":2:", "2 values, expected 3", "line 1"});
  auto word = dir.write("word.txt", "1 2\n3 x4\n");
  expect_input_error([&] { read_vectors(word, 2, "vectors"); }, {word + ":2:", "'x4' is not a number"});
  auto nan = dir.write("nan.txt", "1 nan\n");
  expect_input_error([&] { read_vectors(nan, 1, "vectors"); }, {nan + ":1:", "not a finite number"});
  auto rows = dir.write("rows.txt", "1 2\n3 4\n");
  expect_input_error([&] { read_vectors(rows, 3, "vectors"); }, {rows, "2 rows, expected 3"});
  auto empty = dir.write("empty.txt", "");
  expect_input_error([&] { read_vectors(empty, 1, "vectors"); }, {empty, "0 rows, expected 1"});
  expect_input_error([&] { read_vectors(dir.path("absent.txt"), 1, "vectors"); }, {"absent.txt"});
}

TEST(Features, ReadsNpyFloat32AndFloat64InEveryHeaderVersion) {
  TempDir dir("npy");
  const std::vector<float> f32{1.5f, -2.0f, 0.25f, 4.0f, 5.0f, 6.0f};
  const std::vector<double> f64{1.5, -2.0, 0.25, 4.0, 5.0, 6.0};
  for (int major : {1, 2, 3}) {
    auto a = dir.write("a" + std::to_string(major) + ".npy", npy("<f4", "False", "(3, 2)", raw(f32), major));
    DenseFeature fa = read_vectors(a, 3, "vectors");
    EXPECT_EQ(fa.dim, 2);
    EXPECT_EQ(fa.values, f32) << "version " << major;
    auto b = dir.write("b" + std::to_string(major) + ".npy", npy("<f8", "False", "(2, 3)", raw(f64), major));
    DenseFeature fb = read_vectors(b, 2, "vectors");
    EXPECT_EQ(fb.dim, 3);
    EXPECT_EQ(fb.values, f32) << "version " << major;
  }
}

TEST(Features, NpyErrorsNameTheFileAndWhatWasExpected) {
  TempDir dir("npy-errors");
  const std::string six = raw(std::vector<float>(6, 1.0f));
  auto big_endian = dir.write("be.npy", npy(">f4", "False", "(3, 2)", six));
  expect_input_error([&] { read_vectors(big_endian, 3, "vectors"); }, {big_endian, "dtype '>f4'", "expected '<f4'"});
  auto ints = dir.write("int.npy", npy("<i8", "False", "(3, 1)", raw(std::vector<int64_t>(3, 1))));
  expect_input_error([&] { read_vectors(ints, 3, "vectors"); }, {ints, "dtype '<i8'"});
  auto fortran = dir.write("f.npy", npy("<f4", "True", "(3, 2)", six));
  expect_input_error([&] { read_vectors(fortran, 3, "vectors"); }, {fortran, "Fortran order"});
  auto cube = dir.write("cube.npy", npy("<f4", "False", "(1, 3, 2)", six));
  expect_input_error([&] { read_vectors(cube, 1, "vectors"); }, {cube, "3 dimensions", "expected a 2-D array"});
  auto flat = dir.write("flat.npy", npy("<f4", "False", "(6,)", six));
  expect_input_error([&] { read_vectors(flat, 6, "vectors"); }, {flat, "1 dimensions"});
  auto rows = dir.write("rows.npy", npy("<f4", "False", "(3, 2)", six));
  expect_input_error([&] { read_vectors(rows, 4, "vectors"); }, {rows, "3 rows, expected 4"});
  auto truncated = dir.write("trunc.npy", npy("<f4", "False", "(3, 2)", six.substr(0, 20)));
  expect_input_error([&] { read_vectors(truncated, 3, "vectors"); }, {truncated, "20 bytes, expected 24", "truncated"});
  auto header = dir.write("header.npy", npy("<f4", "False", "(3, 2)", six).substr(0, 30));
  expect_input_error([&] { read_vectors(header, 3, "vectors"); }, {header, "truncated .npy header"});
  auto version = dir.write("v9.npy", npy("<f4", "False", "(3, 2)", six, 9));
  expect_input_error([&] { read_vectors(version, 3, "vectors"); }, {version, "version 9.0", "expected 1.0, 2.0 or 3.0"});
  auto not_npy = dir.write("text.npy", "1 2\n");
  expect_input_error([&] { read_vectors(not_npy, 1, "vectors"); }, {not_npy, "not a NumPy .npy file"});
  auto inf = dir.write("inf.npy", npy("<f8", "False", "(1, 1)", raw(std::vector<double>{HUGE_VAL})));
  expect_input_error([&] { read_vectors(inf, 1, "vectors"); }, {inf, "row 0, column 0", "not finite"});
}

TEST(Features, ReadsNpyWrittenByNumPy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  TempDir dir("numpy");
  const std::string f32 = dir.path("f32.npy"), f64 = dir.path("f64.npy");
  const std::string cmd = "/usr/bin/python3 -c \"import numpy as np; "
                          "np.save('" + f32 + "', np.arange(12, dtype=np.float32).reshape(4, 3) / 4); "
                          "np.save('" + f64 + "', -np.arange(12, dtype=np.float64).reshape(4, 3) / 8)\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  DenseFeature a = read_vectors(f32, 4, "vectors"), b = read_vectors(f64, 4, "vectors");
  ASSERT_EQ(a.dim, 3);
  ASSERT_EQ(b.dim, 3);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(a.values[i], static_cast<float>(i) / 4) << i;
    EXPECT_EQ(b.values[i], -static_cast<float>(i) / 8) << i;
  }
}

// ---- build_features ---------------------------------------------------------------------------------

namespace {
DomainData with_side_info() {
  DomainData d;
  d.name = "toy";
  d.num_items = 3;
  d.sequences = {{1, 2}, {2, 3}};
  d.item_side.text = {{"title", {"", "red apple", "green apple", "car"}}};
  d.item_side.categorical = {{"genre", 2, {{1}, {1}, {2}, {}}, {"", "fruit", "vehicle"}}};  // row 0 must not leak
  d.item_side.numeric = {{"price", {kNaN, 1, 2, 30}}};
  d.user_side.categorical = {{"gender", 2, {{1}, {2}}, {"", "F", "M"}}};
  d.user_side.numeric = {{"age", {20, 40}}};
  return d;
}
}  // namespace

TEST(Features, BuildFeaturesFillsItemAndUserSides) {
  TempDir dir("build");
  DomainData d = with_side_info();
  FeatureOptions o;
  o.text_dim = 8;
  o.attributes = true;
  o.numeric = "bucket";
  o.numeric_dim = 2;
  o.vector_file = dir.write("vec.txt", "1 2\n3 4\n5 6\n");
  build_features(d, o);
  d.validate();
  std::vector<std::string> item_names, user_names;
  for (auto& f : d.item_features) item_names.push_back(f.name);
  for (auto& f : d.user_features) user_names.push_back(f.name);
  EXPECT_EQ(item_names, (std::vector<std::string>{"text", "attributes", "numeric:price", "vectors"}));
  EXPECT_EQ(user_names, (std::vector<std::string>{"attributes", "numeric:age"}));
  for (auto& f : d.item_features)
    for (int64_t j = 0; j < f.dim; ++j) EXPECT_EQ(f.values[static_cast<size_t>(j)], 0.0f) << f.name << " row 0";
  EXPECT_EQ(d.item_features[1].values, (std::vector<float>{0, 0, 1, 0, 0, 1, 0, 0}));
  EXPECT_EQ(d.item_features[3].values, (std::vector<float>{0, 0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(d.user_features[0].values, (std::vector<float>{1, 0, 0, 1}));

  // Building again replaces rather than duplicates.
  build_features(d, o);
  EXPECT_EQ(d.item_features.size(), 4u);
  EXPECT_EQ(d.user_features.size(), 2u);
}

TEST(Features, BuildFeaturesErrors) {
  DomainData d;
  d.name = "bare";
  d.num_items = 2;
  d.sequences = {{1, 2}};
  FeatureOptions o;
  o.text_dim = 8;
  expect_input_error([&] { build_features(d, o); }, {"dataset 'bare'", "text_features: 8", "no text fields"});
  o = {};
  o.attributes = true;
  expect_input_error([&] { build_features(d, o); }, {"dataset 'bare'", "attribute_features: true", "no categorical fields"});
  o = {};
  o.numeric = "sinusoidal";
  expect_input_error([&] { build_features(d, o); }, {"dataset 'bare'", "numeric_features: sinusoidal", "no numeric fields"});
  o = {};
  o.numeric = "log";
  expect_input_error([&] { build_features(d, o); }, {"numeric_features is 'log'", "expected none, bucket or sinusoidal"});
  TempDir dir("build-errors");
  o = {};
  o.vector_file = dir.write("v.txt", "1\n2\n3\n");  // 3 rows for 2 items: row 0 is not in the file
  expect_input_error([&] { build_features(d, o); }, {"3 rows, expected 2"});
}
