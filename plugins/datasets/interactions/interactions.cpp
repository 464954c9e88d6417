// Dataset plugin: one interaction per line, `user item` in time order (the original SASRec files), with
// optional rating / timestamp / ignored columns declared by `columns`.
#include <cmath>
#include <filesystem>
#include <limits>

#include "../common/interaction_log.hpp"
#include "../common/table_reader.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/text.hpp"
#include "xrec/api/files.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;
using namespace xrec::datasets;

const char* kHint =
    "One interaction per line, `user item` in time order, e.g. the SASRec files "
    "(https://github.com/kang205/SASRec/tree/master/data); extra columns are declared with `columns`.";

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

class Interactions : public Dataset {
 public:
  Interactions(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {
    // Config-level checks first, so a wrong `columns` fails before any file is read.
    columns_ = p_.str_list("columns");
    const std::string where = "dataset interactions: `columns` [" + join(columns_, ", ") + "] ";
    const std::string rule =
        " (expected exactly one `user` and one `item`, at most one `rating` and one `timestamp`, any number of "
        "`skip`)";
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& n = columns_[c];
      if (n == "skip") continue;
      int* slot = n == "user"        ? &user_col_
                  : n == "item"      ? &item_col_
                  : n == "rating"    ? &rating_col_
                  : n == "timestamp" ? &time_col_
                                     : nullptr;
      if (!slot) throw InputError(where + "has an unknown column name " + quote_token(n) + rule);
      if (*slot >= 0) throw InputError(where + "names `" + n + "` twice" + rule);
      *slot = static_cast<int>(c);
    }
    if (user_col_ < 0) throw InputError(where + "has no `user` column" + rule);
    if (item_col_ < 0) throw InputError(where + "has no `item` column" + rule);
    if (p_.str("order") == "timestamp" && time_col_ < 0)
      throw InputError("dataset interactions: `order: timestamp` needs a `timestamp` entry in `columns` (now [" +
                       join(columns_, ", ") + "]); use `order: file` for files already in time order");
    min_rating_ = p_.real("min_rating");
    if (min_rating_ > -std::numeric_limits<double>::infinity() && rating_col_ < 0)
      throw InputError("dataset interactions: `min_rating: " + p_.at("min_rating").to_string() +
                       "` needs a `rating` entry in `columns` (now [" + join(columns_, ", ") + "])");
    const std::string& s = p_.str("separator");
    sep_ = s == "tab" ? Separator::Tab : s == "space" ? Separator::Space : s == "comma" ? Separator::Comma
                                                                                       : Separator::Whitespace;
  }

  DomainData load() override {
    const std::string path = find_data_file(p_.str("path"), ctx_, kHint);
    const std::string text = read_file(path);
    DomainData d;
    d.name = p_.str("name").empty() ? std::filesystem::path(path).stem().string() : p_.str("name");
    d.source_files.push_back(path);

    const std::string layout = "columns: " + join(columns_);
    RecordReader r(text, path, sep_);
    if (p_.flag("header")) r.next();  // the first record names the columns
    size_t rows = 0;
    InteractionLog log;
    while (r.next()) {
      ++rows;
      const auto& f = r.fields();
      if (f.size() != columns_.size()) throw InputError(column_count_error(r, columns_.size(), layout));
      for (int c : {user_col_, item_col_})
        if (trim(f[static_cast<size_t>(c)]).empty())
          throw InputError(r.where() + "empty " + columns_[static_cast<size_t>(c)] + " id in column " +
                           std::to_string(c + 1) + " (" + layout + ")");
      double rating = 0;
      int64_t time = 0;
      if (rating_col_ >= 0 && !parse_real(f[static_cast<size_t>(rating_col_)], &rating))
        throw InputError(r.where() + "rating " + shown(f[static_cast<size_t>(rating_col_)]) + " in column " +
                         std::to_string(rating_col_ + 1) + " is not a number (" + layout + ")");
      if (time_col_ >= 0 && !parse_time(f[static_cast<size_t>(time_col_)], &time))
        throw InputError(r.where() + "timestamp " + shown(f[static_cast<size_t>(time_col_)]) + " in column " +
                         std::to_string(time_col_ + 1) + " is not a number (" + layout + ")");
      if (rating < min_rating_) continue;  // only reachable with a rating column (checked in the constructor)
      log.add(f[static_cast<size_t>(user_col_)], f[static_cast<size_t>(item_col_)], static_cast<float>(rating), time);
    }
    if (rows == 0)
      throw InputError(path + ": no interactions (the file is empty" +
                       std::string(p_.flag("header") ? " apart from its header line" : "") + "; expected lines of " +
                       layout + ")");
    if (log.empty())
      throw InputError(path + ": all " + std::to_string(rows) + " interactions have a rating below min_rating = " +
                       p_.at("min_rating").to_string() + "; nothing is left to train on");

    InteractionLog::Options opt;
    opt.timestamps = time_col_ >= 0;
    opt.ratings = rating_col_ >= 0;
    opt.sort_by_time = p_.str("order") == "timestamp";
    log.build(d, opt);
    return d;
  }

 private:
  Params p_;
  PluginContext ctx_;
  std::vector<std::string> columns_;
  int user_col_ = -1, item_col_ = -1, rating_col_ = -1, time_col_ = -1;
  double min_rating_ = 0;
  Separator sep_ = Separator::Whitespace;
};

}  // namespace

XREC_PLUGIN("interactions", "1.0.0", "One interaction per line (`user item`, time order; optional rating/timestamp)") {
  registrar.add_dataset(
      "interactions",
      "Reads one interaction per line, `user item` in time order (the original SASRec files), with optional "
      "rating and timestamp columns. Users are numbered by first appearance; numeric item ids keep their order, "
      "other ids are numbered by first appearance.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "File to read: absolute, or relative to the data roots (e.g. sasrec/Beauty.txt)"),
          xrec::param::string("name", "", "Domain name; empty = the file name without extension"),
          xrec::param::string_list("columns", {"user", "item"},
                                   "Meaning of each column, in order: user, item, rating, timestamp, or skip "
                                   "(ignored); exactly one user and one item")
              .one_of({"user", "item", "rating", "timestamp", "skip"}),
          xrec::param::string("separator", "auto",
                              "Column separator: auto (runs of spaces/tabs), tab (each tab; empty fields kept), "
                              "space (runs of spaces), comma (CSV with \"quoted\" fields)")
              .one_of({"auto", "tab", "space", "comma"}),
          xrec::param::boolean("header", false, "Skip the first (non-blank) line: the file has a header"),
          xrec::param::string("order", "file",
                              "file: rows are already in time order; timestamp: order each user's rows by the "
                              "timestamp column (stable: ties keep file order)")
              .one_of({"file", "timestamp"}),
          xrec::param::real("min_rating", -std::numeric_limits<double>::infinity(),
                            "Drop interactions rated below this (needs a rating column); -.inf = keep all"),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<Interactions>(p, ctx); });
}
