// Dataset plugin: one user per line, `user item1 item2 ...` in time order (the S3-Rec / CIKM 2020 files),
// with an optional per-user negatives file (`user neg1 ... negN`, e.g. LastFM_sample.txt).
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <unordered_map>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

const char* kHint =
    "The S3-Rec files (Beauty.txt, Sports_and_Outdoors.txt, Toys_and_Games.txt, LastFM.txt) come from "
    "https://github.com/RUCAIBox/CIKM2020-S3Rec/tree/master/data";

bool is_positive_int(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

class UserSequences : public Dataset {
 public:
  UserSequences(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {}

  DomainData load() override {
    const std::string path = find_data_file(p_.str("path"), ctx_, kHint);
    const std::string text = read_file(path);
    DomainData d;
    d.name = p_.str("name").empty() ? std::filesystem::path(path).stem().string() : p_.str("name");
    d.source_files.push_back(path);

    // Pass 1: raw tokens per user, with line numbers for errors.
    std::vector<std::vector<std::string_view>> raw;
    std::unordered_map<std::string_view, size_t> user_line;
    const auto lines = split_lines(text);
    const int64_t max_users = p_.integer("max_users");
    for (size_t ln = 0; ln < lines.size(); ++ln) {
      auto tok = split_whitespace(lines[ln]);
      if (tok.empty()) continue;  // blank lines are harmless
      const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
      if (tok.size() < 2) throw InputError(where + "user '" + std::string(tok[0]) + "' has no items (expected `user item1 item2 ...`)");
      if (auto [it, fresh] = user_line.emplace(tok[0], ln + 1); !fresh)
        throw InputError(where + "user '" + std::string(tok[0]) + "' already appeared on line " + std::to_string(it->second));
      d.user_ids.emplace_back(tok[0]);
      raw.emplace_back(tok.begin() + 1, tok.end());
      if (max_users > 0 && static_cast<int64_t>(raw.size()) >= max_users) break;
    }
    if (raw.empty()) throw InputError(path + ": no users (the file is empty; expected lines `user item1 item2 ...`)");

    // Item ids: numeric raw ids keep their numeric order (1..N stays 1..N, so negatives files and
    // published splits line up); other raw ids are numbered in order of first appearance.
    std::vector<std::string_view> order;
    std::unordered_map<std::string_view, int64_t> id;
    bool numeric = true;
    for (auto& r : raw)
      for (auto& t : r) {
        if (id.emplace(t, 0).second) order.push_back(t);
        int64_t v;
        numeric = numeric && is_positive_int(t, &v);
      }
    if (numeric)
      std::sort(order.begin(), order.end(), [](std::string_view a, std::string_view b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
      });
    d.item_ids.emplace_back("");
    for (size_t i = 0; i < order.size(); ++i) {
      id[order[i]] = static_cast<int64_t>(i + 1);
      d.item_ids.emplace_back(order[i]);
    }
    d.num_items = static_cast<int64_t>(order.size());
    d.sequences.reserve(raw.size());
    for (auto& r : raw) {
      std::vector<int64_t> s;
      s.reserve(r.size());
      for (auto& t : r) s.push_back(id[t]);
      d.sequences.push_back(std::move(s));
    }
    if (!p_.str("negatives_file").empty()) read_negatives(d, id);
    return d;
  }

 private:
  void read_negatives(DomainData& d, const std::unordered_map<std::string_view, int64_t>& item_id) {
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
        throw InputError(where + "user '" + std::string(tok[0]) + "' is not in the interaction file");
      }
      if (tok.size() < 2) throw InputError(where + "no negatives for user '" + std::string(tok[0]) + "'");
      auto& neg = d.fixed_negatives[u->second];
      for (size_t k = 1; k < tok.size(); ++k) {
        auto it = item_id.find(tok[k]);
        if (it == item_id.end())
          throw InputError(where + "negative item '" + std::string(tok[k]) + "' does not occur in the interaction file");
        neg.push_back(it->second);
      }
      seen[u->second] = true;
    }
    const auto missing = std::count(seen.begin(), seen.end(), false);
    if (missing > 0)
      throw InputError(path + ": " + std::to_string(missing) + " of " + std::to_string(seen.size()) +
                       " users have no line of negatives (first: '" +
                       d.user_ids[static_cast<size_t>(std::find(seen.begin(), seen.end(), false) - seen.begin())] + "')");
  }

  Params p_;
  PluginContext ctx_;
};

}  // namespace

XREC_PLUGIN("user_sequences", "1.0.0", "One user per line (`user item1 item2 ...`, time order), as in the S3-Rec data") {
  registrar.add_dataset(
      "user_sequences",
      "Reads `user item1 item2 ...` lines in time order (S3-Rec's Beauty.txt, LastFM.txt, ...). Numeric item ids "
      "keep their order; other ids are numbered by first appearance.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "File to read: absolute, or relative to the data roots (e.g. amazon-s3rec/Beauty.txt)"),
          xrec::param::string("name", "", "Domain name; empty = the file name without extension"),
          xrec::param::string("negatives_file", "",
                              "Optional fixed evaluation negatives, one line `user neg1 ... negN` per user "
                              "(e.g. amazon-s3rec/LastFM_sample.txt); used by eval.sampler: file"),
          xrec::param::integer("max_users", 0, "Read only the first N users (0 = all): for quick smoke runs").at_least(0),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<UserSequences>(p, ctx); });
}
