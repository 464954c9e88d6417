// Dataset plugin: Amazon's raw rating files (`ratings_<Category>.csv`: `user,item,rating,timestamp`, no
// header), with a rating threshold that turns explicit ratings into positives.
#include <filesystem>

#include "../common/interaction_log.hpp"
#include "../common/table_reader.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;
using namespace xrec::datasets;

const char* kHint =
    "Amazon's rating-only files `ratings_<Category>.csv` (user,item,rating,timestamp) come from "
    "https://jmcauley.ucsd.edu/data/amazon/ (2014) or https://nijianmo.github.io/amazon/ (2018).";
const char* kLayout = "user,item,rating,timestamp";

// "ratings_Beauty.csv" -> "Beauty": the category is the useful part of Amazon's file names.
std::string default_name(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  const std::string prefix = "ratings_";
  return stem.size() > prefix.size() && stem.compare(0, prefix.size(), prefix) == 0 ? stem.substr(prefix.size()) : stem;
}

class RatingCsv : public Dataset {
 public:
  RatingCsv(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {}

  DomainData load() override {
    const std::string path = find_data_file(p_.str("path"), ctx_, kHint);
    const std::string text = read_file(path);
    DomainData d;
    d.name = p_.str("name").empty() ? default_name(path) : p_.str("name");
    d.source_files.push_back(path);

    const double min_rating = p_.real("min_rating");
    RecordReader r(text, path, Separator::Comma);
    if (p_.flag("header")) r.next();  // the first record names the columns
    size_t rows = 0;
    InteractionLog log;
    while (r.next()) {
      ++rows;
      const auto& f = r.fields();
      if (f.size() != 4) throw InputError(column_count_error(r, 4, kLayout));
      if (trim(f[0]).empty()) throw InputError(r.where() + "empty user id in column 1 (" + kLayout + ")");
      if (trim(f[1]).empty()) throw InputError(r.where() + "empty item id in column 2 (" + kLayout + ")");
      double rating;
      int64_t time;
      if (!parse_real(f[2], &rating))
        throw InputError(r.where() + "rating " + shown(f[2]) + " in column 3 is not a number (" + kLayout + ")");
      if (!parse_time(f[3], &time))
        throw InputError(r.where() + "timestamp " + shown(f[3]) + " in column 4 is not a number (" + kLayout + ")");
      if (rating < min_rating) continue;
      log.add(f[0], f[1], static_cast<float>(rating), time);
    }
    if (rows == 0)
      throw InputError(path + ": no ratings (the file is empty" +
                       std::string(p_.flag("header") ? " apart from its header line" : "") + "; expected lines " +
                       kLayout + ")");
    if (log.empty())
      throw InputError(path + ": all " + std::to_string(rows) + " ratings are below min_rating = " +
                       p_.at("min_rating").to_string() + "; nothing is left to train on");

    InteractionLog::Options opt;
    opt.timestamps = true;
    opt.ratings = true;
    opt.sort_by_time = true;  // Amazon's files are not in time order
    log.build(d, opt);
    return d;
  }

 private:
  Params p_;
  PluginContext ctx_;
};

}  // namespace

XREC_PLUGIN("rating_csv", "1.0.0", "Amazon's raw rating CSV (`user,item,rating,timestamp`) with a rating threshold") {
  registrar.add_dataset(
      "rating_csv",
      "Reads `user,item,rating,timestamp` rows (Amazon's ratings_*.csv; RFC 4180 quoting), keeps ratings >= "
      "min_rating and orders each user's items by timestamp (stable). Users are numbered by first appearance; "
      "numeric item ids keep their order, other ids (ASINs) are numbered by first appearance.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "File to read: absolute, or relative to the data roots (e.g. amazon/ratings_Beauty.csv)"),
          xrec::param::string("name", "", "Domain name; empty = the file name without extension and `ratings_` prefix"),
          xrec::param::real("min_rating", 0.0,
                            "Keep ratings >= this as positive interactions (0 = keep all; 4 = only 4 and 5 stars)"),
          xrec::param::boolean("header", false, "Skip the first (non-blank) line: the file has a header"),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<RatingCsv>(p, ctx); });
}
