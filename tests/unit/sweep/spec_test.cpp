// Sweep specs: parsing (every error with file:line), command-line pieces, and expansion into points.
#include "xrec/sweep/spec.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

using namespace xrec;
using namespace xrec::sweep;
using xrec::test::expect_input_error;

namespace {
Spec parse(const std::string& text) { return parse_spec(text, "s.yaml", "."); }
std::string base_line() { return "base: {seed: 1}\n"; }
}  // namespace

TEST(SweepSpec, ParsesEverySectionAndExpandsVariantsTimesGrid) {
  Spec s = parse(base_line() +
                 "name: study\n"
                 "overrides: {train.epochs: 3}\n"
                 "grid:\n  train.lr: [1e-3, 1e-4]\n  backbone.type: [sasrec, gru4rec, bert4rec]\n"
                 "variants:\n  - {name: plain}\n  - {name: noVQ, transfer.type: metarec, quantizer: null}\n"
                 "seeds: [1, 2, 3]\n"
                 "select: {metric: mrr@10, mode: max}\n"
                 "threads: 2\ntimeout: 30\n");
  EXPECT_EQ(s.name, "study");
  ASSERT_EQ(s.seeds, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(s.select_metric, "mrr@10");
  EXPECT_EQ(s.select_mode, "max");
  EXPECT_EQ(s.threads, 2);
  EXPECT_DOUBLE_EQ(s.timeout_s, 30);
  std::vector<Point> points = expand(s);
  ASSERT_EQ(points.size(), 2u * 2u * 3u);
  // Variant outermost, then the grid with its last key fastest.
  EXPECT_EQ(points[0].label, "plain train.lr=1e-3 backbone.type=sasrec");
  EXPECT_EQ(points[1].label, "plain train.lr=1e-3 backbone.type=gru4rec");
  EXPECT_EQ(points[3].label, "plain train.lr=1e-4 backbone.type=sasrec");
  EXPECT_EQ(points[6].label, "noVQ train.lr=1e-3 backbone.type=sasrec");
  std::vector<std::string> o;
  for (auto& x : points[6].overrides) o.push_back(x.str());
  EXPECT_EQ(o, (std::vector<std::string>{"train.epochs=3", "transfer.type=metarec", "quantizer=null", "train.lr=1e-3",
                                         "backbone.type=sasrec"}));
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].index, static_cast<int64_t>(i));
}

TEST(SweepSpec, MapValuesBecomeFlowYaml) {
  Spec s = parse(base_line() + "grid:\n  backbone: [{type: sasrec, hidden: 32}, {type: gru4rec}]\n");
  auto p = expand(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].overrides[0].str(), "backbone={type: sasrec, hidden: 32}");
  EXPECT_EQ(p[1].overrides[0].str(), "backbone={type: gru4rec}");
}

TEST(SweepSpec, RandomSamplesAreDeterministicAndInBounds) {
  const std::string text = base_line() +
                           "random:\n  budget: 50\n  seed: 7\n  params:\n"
                           "    train.lr: {loguniform: [1e-4, 1e-2]}\n"
                           "    train.dropout: {uniform: [0.1, 0.5]}\n"
                           "    backbone.layers: {int: [1, 3]}\n"
                           "    backbone.type: {choice: [sasrec, gru4rec]}\n";
  auto a = expand(parse(text)), b = expand(parse(text));
  ASSERT_EQ(a.size(), 50u);
  std::set<std::string> layers, types;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].label, b[i].label);
    ASSERT_EQ(a[i].overrides.size(), 4u);
    const double lr = std::stod(a[i].overrides[0].value), dropout = std::stod(a[i].overrides[1].value);
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-2);
    EXPECT_GE(dropout, 0.1);
    EXPECT_LE(dropout, 0.5);
    layers.insert(a[i].overrides[2].value);
    types.insert(a[i].overrides[3].value);
  }
  EXPECT_EQ(layers, (std::set<std::string>{"1", "2", "3"}));
  EXPECT_EQ(types, (std::set<std::string>{"sasrec", "gru4rec"}));
  // Another seed draws other samples.
  std::string other = text;
  other.replace(other.find("seed: 7"), 7, "seed: 8");
  EXPECT_NE(expand(parse(other))[0].label, a[0].label);
}

TEST(SweepSpec, ErrorsNameFileLineAndWhatWasExpected) {
  expect_input_error([] { parse(base_line() + "grid: {train.lr: [1]}\ngird: {}\n"); },
                     {"s.yaml:3:1", "unknown sweep key 'gird'", "grid"});
  expect_input_error([] { parse(base_line() + "grid:\n  train.lr: []\n"); }, {"s.yaml:3:", "empty list"});
  expect_input_error([] { parse(base_line() + "grid: {}\n"); }, {"s.yaml:2:", "at least one key"});
  expect_input_error(
      [] { parse(base_line() + "random:\n  budget: 3\n  params:\n    train.lr: {uniform: [0.5, 0.1]}\n"); },
      {"s.yaml:5:", "LOW < HIGH", "[0.5, 0.1]"});
  expect_input_error(
      [] { parse(base_line() + "random:\n  budget: 3\n  params:\n    train.lr: {loguniform: [0, 1]}\n"); },
      {"s.yaml:5:", "above 0"});
  expect_input_error([] { parse(base_line() + "random:\n  budget: 3\n  params:\n    a.b: {normal: [0, 1]}\n"); },
                     {"s.yaml:5:", "unknown distribution 'normal'"});
  expect_input_error([] { parse(base_line() + "seeds: [1, two, 3]\n"); }, {"s.yaml:2:", "'two' is not an integer"});
  expect_input_error([] { parse(base_line() + "seeds: [1, 1.5]\n"); }, {"s.yaml:2:", "'1.5' is not an integer"});
  expect_input_error([] { parse(base_line() + "seeds: [1, 1]\n"); }, {"listed twice"});
  expect_input_error([] { parse(base_line() + "select: {metric: ndcg@10, mode: best}\n"); },
                     {"s.yaml:2:", "max or min"});
  expect_input_error([] { parse("grid: {train.lr: [1]}\n"); }, {"s.yaml", "needs base:"});
  expect_input_error([] { parse(base_line()); }, {"nothing to vary"});
  expect_input_error([] { parse(base_line() + "variants:\n  - {transfer.type: x}\n"); }, {"s.yaml:3:", "name:"});
  expect_input_error([] { parse(base_line() + "grid:\n  train lr: [1]\n"); }, {"s.yaml:3:", "not a config key path"});
  expect_input_error([] { parse("base: no/such/file.yaml\nseeds: [1]\n"); }, {"s.yaml:1:", "no config file"});
}

TEST(SweepSpec, ReferenceNamesAVariant) {
  const Spec s = parse(base_line() + "variants:\n  - {name: scratch, transfer.type: scratch}\n  - {name: ft, transfer.type: finetune}\n"
                                      "reference: scratch\n");
  EXPECT_EQ(s.reference, "scratch");
  EXPECT_EQ(parse(base_line() + "seeds: [1]\n").reference, "");
  expect_input_error([] { parse(base_line() + "variants:\n  - {name: a, train.lr: 1}\nreference: b\n"); },
                     {"s.yaml:4:", "'b' is not a variant", "variants: a"});
  expect_input_error([] { parse(base_line() + "seeds: [1]\nreference: scratch\n"); }, {"s.yaml:3:", "no variants"});
}

TEST(SweepSpec, FileBaseIsRelativeToTheSpecAndNameDefaultsToItsStem) {
  xrec::test::TempDir dir("spec");
  dir.write("configs/base.yaml", "seed: 1\n");
  const std::string path = dir.write("configs/sweeps/lr-study.yaml", "base: ../base.yaml\nseeds: [1]\n");
  Spec s = load_spec(path);
  EXPECT_EQ(s.name, "lr-study");
  EXPECT_EQ(std::filesystem::path(s.base_path), std::filesystem::path(dir.file("configs/base.yaml")));
  EXPECT_TRUE(is_spec_file(path));
  EXPECT_FALSE(is_spec_file(dir.file("configs/base.yaml")));
}

TEST(SweepSpec, CommandLineGridAndSeeds) {
  Spec s;
  add_grid_arg(s, "train.lr=1e-3,1e-4");
  add_grid_arg(s, "eval.ks=[5,10],[10]");
  set_seeds_arg(s, "1,2,3");
  ASSERT_EQ(s.grid.size(), 2u);
  EXPECT_EQ(s.grid[0].second, (std::vector<std::string>{"1e-3", "1e-4"}));
  EXPECT_EQ(s.grid[1].second, (std::vector<std::string>{"[5,10]", "[10]"}));
  EXPECT_EQ(s.seeds, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(expand(s).size(), 4u);
  // Command-line key=value come last: above the point, as the highest config layer.
  s.overrides.push_back({"train.epochs", "5"});
  s.final_overrides.push_back({"train.lr", "0.5"});
  std::vector<std::string> o;
  const std::vector<Point> points = expand(s);
  for (auto& x : points[3].overrides) o.push_back(x.str());
  EXPECT_EQ(o, (std::vector<std::string>{"train.epochs=5", "train.lr=1e-4", "eval.ks=[10]", "train.lr=0.5"}));
  expect_input_error([&] { add_grid_arg(s, "train.lr=1"); }, {"already has a grid"});
  expect_input_error([&] { add_grid_arg(s, "x.y=1,,2"); }, {"empty value"});
  expect_input_error([&] { set_seeds_arg(s, "1,a"); }, {"--seeds", "'a' is not an integer"});
  expect_input_error([&] { parse_override("novalue", "here"); }, {"here", "key.path=value"});
}
