// Dataset plugin: one user per line, `user item1 item2 ...` in time order (the S3-Rec / CIKM 2020 files),
// with an optional per-user negatives file (`user neg1 ... negN`, e.g. LastFM_sample.txt) and item
// attributes from `*_item2attributes.json`.
#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "../common/id_map.hpp"
#include "attributes_json.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/text.hpp"

namespace {

using namespace xrec;
using namespace xrec::datasets;

const char* kHint =
    "The S3-Rec files (Beauty.txt, Sports_and_Outdoors.txt, Toys_and_Games.txt, LastFM.txt) come from "
    "https://github.com/RUCAIBox/CIKM2020-S3Rec/tree/master/data";

class UserSequences : public Dataset {
 public:
  UserSequences(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {}

  DomainData load() override {
    const std::string path = find_data_file(p_.str("path"), ctx_, kHint);
    const std::string text = read_file(path);
    DomainData d;
    d.name = p_.str("name").empty() ? std::filesystem::path(path).stem().string() : p_.str("name");
    d.source_files.push_back(path);

    // Raw item ids are interned as they come; number_items then applies the rule all dataset plugins share
    // (numeric raw ids keep their numeric order, so 1..N stays 1..N and negatives files and published
    // splits line up; other raw ids are numbered by first appearance).
    IdInterner items;
    std::vector<std::vector<int64_t>> raw;
    std::unordered_map<std::string_view, size_t> user_line;
    const auto lines = split_lines(text);
    const int64_t max_users = p_.integer("max_users");
    for (size_t ln = 0; ln < lines.size(); ++ln) {
      auto tok = split_whitespace(lines[ln]);
      if (tok.empty()) continue;  // blank lines are harmless
      const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
      if (tok.size() < 2)
        throw InputError(where + "user " + quote_token(tok[0]) + " has no items (expected `user item1 item2 ...`)");
      if (auto [it, fresh] = user_line.emplace(tok[0], ln + 1); !fresh)
        throw InputError(where + "user " + quote_token(tok[0]) + " already appeared on line " + std::to_string(it->second));
      d.user_ids.emplace_back(tok[0]);
      std::vector<int64_t> s;
      s.reserve(tok.size() - 1);
      for (size_t k = 1; k < tok.size(); ++k) s.push_back(items.intern(tok[k]));
      raw.push_back(std::move(s));
      if (max_users > 0 && static_cast<int64_t>(raw.size()) >= max_users) break;
    }
    if (raw.empty()) throw InputError(path + ": no users (the file is empty; expected lines `user item1 item2 ...`)");

    const std::vector<int64_t> item_id = number_items(items, &d.item_ids);
    d.num_items = items.size();
    d.sequences.reserve(raw.size());
    for (auto& r : raw) {
      for (auto& i : r) i = item_id[static_cast<size_t>(i)];
      d.sequences.push_back(std::move(r));
    }
    if (!p_.str("negatives_file").empty()) read_negatives(d, items, item_id);
    read_attributes(d, items, item_id, path);
    return d;
  }

 private:
  void read_negatives(DomainData& d, const IdInterner& items, const std::vector<int64_t>& item_id) {
    const std::string path = find_data_file(p_.str("negatives_file"), ctx_, kHint);
    const std::string text = read_file(path);
    d.source_files.push_back(path);
    std::unordered_map<std::string, size_t> user_index;
    for (size_t u = 0; u < d.user_ids.size(); ++u) user_index[d.user_ids[u]] = u;
    d.fixed_negatives.assign(d.user_ids.size(), {});
    std::vector<bool> seen(d.user_ids.size(), false);
    const auto lines = split_lines(text);
    for (size_t ln = 0; ln < lines.size(); ++ln) {
      auto tok = split_whitespace(lines[ln]);
      if (tok.empty()) continue;
      const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
      auto u = user_index.find(std::string(tok[0]));
      if (u == user_index.end()) {
        if (p_.integer("max_users") > 0) continue;  // a truncated dataset drops the others' negatives
        throw InputError(where + "user " + quote_token(tok[0]) + " is not in the interaction file");
      }
      if (tok.size() < 2) throw InputError(where + "no negatives for user " + quote_token(tok[0]) + "");
      if (seen[u->second])
        throw InputError(where + "user " + quote_token(tok[0]) + " already has a line of negatives");
      auto& neg = d.fixed_negatives[u->second];
      for (size_t k = 1; k < tok.size(); ++k) {
        const int64_t i = items.find(tok[k]);
        if (i < 0)
          throw InputError(where + "negative item " + quote_token(tok[k]) + " does not occur in the interaction file");
        neg.push_back(item_id[static_cast<size_t>(i)]);
      }
      seen[u->second] = true;
    }
    const auto missing = std::count(seen.begin(), seen.end(), false);
    if (missing > 0)
      throw InputError(path + ": " + std::to_string(missing) + " of " + std::to_string(seen.size()) +
                       " users have no line of negatives (first: '" +
                       d.user_ids[static_cast<size_t>(std::find(seen.begin(), seen.end(), false) - seen.begin())] + "')");
  }

  // `attributes_file`: "auto" = <stem>_item2attributes.json next to the sequence file when it exists, "" =
  // none, else a path. Becomes the item field "attributes": attribute ids numbered 1..V in ascending raw
  // order over the items of the sequences (labels = raw ids), each item's ids once, in file order.
  void read_attributes(DomainData& d, const IdInterner& items, const std::vector<int64_t>& item_id,
                       const std::string& data_path) {
    const std::string& spec = p_.str("attributes_file");
    std::string path;
    if (spec == "auto") {
      const std::filesystem::path p(data_path);
      const auto candidate = p.parent_path() / (p.stem().string() + "_item2attributes.json");
      std::error_code ec;
      if (!std::filesystem::is_regular_file(candidate, ec)) return;
      path = candidate.string();
    } else if (spec.empty()) {
      return;
    } else {
      path = find_data_file(spec, ctx_, kHint);
    }
    const std::string text = read_file(path);
    const std::vector<ItemAttributes> entries = read_item_attributes(text, path);
    std::vector<const ItemAttributes*> of_item(static_cast<size_t>(d.num_items) + 1, nullptr);
    std::vector<int64_t> vocab;
    for (auto& e : entries) {
      const int64_t i = items.find(e.item);
      if (i < 0) continue;  // an item the sequences do not use (or cut by max_users)
      of_item[static_cast<size_t>(item_id[static_cast<size_t>(i)])] = &e;
      vocab.insert(vocab.end(), e.values.begin(), e.values.end());
    }
    if (std::none_of(of_item.begin(), of_item.end(), [](auto* e) { return e != nullptr; }))
      throw InputError(path + ": none of its " + std::to_string(entries.size()) + " items occurs in " + data_path +
                       " (keys are matched against the raw item ids of the sequences, such as '" + d.item_ids[1] +
                       "'); set attributes_file to the file of this dataset, or \"\" for none");
    std::sort(vocab.begin(), vocab.end());
    vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
    CategoricalFeature f;
    f.name = "attributes";
    f.vocab = static_cast<int64_t>(vocab.size());
    f.labels.assign(1, "");
    for (int64_t v : vocab) f.labels.push_back(std::to_string(v));
    f.values.assign(of_item.size(), {});
    for (size_t item = 1; item < of_item.size(); ++item) {
      if (!of_item[item]) continue;
      auto& row = f.values[item];
      for (int64_t v : of_item[item]->values) {
        const int64_t id = std::lower_bound(vocab.begin(), vocab.end(), v) - vocab.begin() + 1;
        if (std::find(row.begin(), row.end(), id) == row.end()) row.push_back(id);  // LastFM repeats tags
      }
    }
    d.item_side.categorical.push_back(std::move(f));
    d.source_files.push_back(path);
  }

  Params p_;
  PluginContext ctx_;
};

}  // namespace

XREC_PLUGIN("user_sequences", "1.0.0", "One user per line (`user item1 item2 ...`, time order), as in the S3-Rec data") {
  registrar.add_dataset(
      "user_sequences",
      "Reads `user item1 item2 ...` lines in time order (S3-Rec's Beauty.txt, LastFM.txt, ...). Numeric item ids "
      "keep their order; other ids are numbered by first appearance. Item attributes from *_item2attributes.json.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "File to read: absolute, or relative to the data roots (e.g. amazon-s3rec/Beauty.txt)"),
          xrec::param::string("name", "", "Domain name; empty = the file name without extension"),
          xrec::param::string("negatives_file", "",
                              "Optional fixed evaluation negatives, one line `user neg1 ... negN` per user "
                              "(e.g. amazon-s3rec/LastFM_sample.txt); used by eval.sampler: file"),
          xrec::param::integer("max_users", 0, "Read only the first N users (0 = all): for quick smoke runs").at_least(0),
          xrec::param::string("attributes_file", "auto",
                              "Item attributes {\"item\": [attribute ids]} as the item field `attributes`: auto = "
                              "<stem>_item2attributes.json next to the file if it exists, \"\" = none, or a path"),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<UserSequences>(p, ctx); });
}
