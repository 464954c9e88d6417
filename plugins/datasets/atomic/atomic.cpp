// Dataset plugin: RecBole atomic files. `<name>.inter` holds the interactions; the optional `<name>.item` and
// `<name>.user` hold side information. Every file is tab separated with a `field:type` header, type one of
// token, token_seq (space separated tokens), float, float_seq (space separated numbers).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

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
namespace fs = std::filesystem;

const char* kHint =
    "RecBole atomic files: a folder with <name>.inter (and optionally <name>.item, <name>.user), e.g. ml-100k "
    "from https://github.com/RUCAIBox/RecBole/tree/master/dataset/ml-100k";
const char* kTypes = "token, token_seq, float, float_seq";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class FieldType { Token, TokenSeq, Float, FloatSeq };

struct Field {
  std::string name;
  FieldType type;
  std::string header;  // "name:type" as written
};

bool is_seq(FieldType t) { return t == FieldType::TokenSeq || t == FieldType::FloatSeq; }

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// One atomic file: its text, its parsed header, and a reader positioned on the data rows. Not movable: the
// reader refers to the text.
class AtomicTable {
 public:
  explicit AtomicTable(std::string path) : path_(std::move(path)), text_(read_file(path_)), rows_(text_, path_, Separator::Tab) {
    if (!rows_.next())
      throw InputError(path_ + ": empty file (expected a header line of tab-separated field:type columns, type one "
                               "of " + kTypes + ")");
    header_line_ = rows_.line();
    for (size_t c = 0; c < rows_.fields().size(); ++c) {
      const std::string_view h = trim(rows_.fields()[c]);
      const std::string where = at_line(path_, header_line_) + "column " + std::to_string(c + 1) + " header " + shown(h);
      const size_t colon = h.rfind(':');
      if (colon == std::string_view::npos)
        throw InputError(where + " has no type (expected field:type with type one of " + kTypes + ", e.g. " +
                         std::string(h) + ":token)");
      const std::string name(h.substr(0, colon)), type(h.substr(colon + 1));
      if (name.empty()) throw InputError(where + " has no field name before ':' (expected field:type)");
      FieldType t;
      if (type == "token") t = FieldType::Token;
      else if (type == "token_seq") t = FieldType::TokenSeq;
      else if (type == "float") t = FieldType::Float;
      else if (type == "float_seq") t = FieldType::FloatSeq;
      else throw InputError(where + " has unknown type " + quote_token(type) + " (expected one of " + kTypes + ")");
      if (int prev = find(name); prev >= 0)
        throw InputError(where + " repeats field " + quote_token(name) + " of column " + std::to_string(prev + 1));
      fields_.push_back({name, t, std::string(h)});
    }
  }
  AtomicTable(const AtomicTable&) = delete;
  AtomicTable& operator=(const AtomicTable&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<Field>& fields() const { return fields_; }
  int find(const std::string& name) const {
    for (size_t c = 0; c < fields_.size(); ++c)
      if (fields_[c].name == name) return static_cast<int>(c);
    return -1;
  }
  std::string header_list() const {
    std::vector<std::string> h;
    for (auto& f : fields_) h.push_back(f.header);
    return join(h);
  }
  std::string header_where() const { return at_line(path_, header_line_); }

  // Next data row, checked to have one value per header column; false at the end.
  bool next_row() {
    if (!rows_.next()) return false;
    if (rows_.fields().size() != fields_.size())
      throw InputError(column_count_error(rows_, fields_.size(), "the header's columns: " + header_list()));
    return true;
  }
  const RecordReader& row() const { return rows_; }
  std::string_view value(size_t c) const { return rows_.fields()[c]; }
  // "path:line: " + "<what> in column 3 (rating:float)"
  std::string where_value(size_t c) const {
    return rows_.where() + "value " + shown(value(c)) + " in column " + std::to_string(c + 1) + " (" +
           fields_[c].header + ")";
  }

  // The column of `field` set by `param`; a sequence type is refused since the role needs one value per row.
  int column(const std::string& param, const std::string& field, bool required) const {
    const int c = find(field);
    if (c < 0) {
      if (!required) return -1;
      throw InputError(header_where() + "no '" + field + "' column for `" + param + ": " + field +
                       "` (the header has: " + header_list() + ")");
    }
    if (is_seq(fields_[static_cast<size_t>(c)].type))
      throw InputError(header_where() + "column '" + fields_[static_cast<size_t>(c)].header + "' is used as `" + param +
                       "` but holds a sequence; expected token or float");
    return c;
  }

 private:
  std::string path_;
  std::string text_;
  RecordReader rows_;
  size_t header_line_ = 0;
  std::vector<Field> fields_;
};

// Collects one side column over the rows of the domain (items 0..num_items, or users).
struct SideColumn {
  size_t col = 0;
  Field field;
  bool text = false;
  IdInterner vocab;                           // token / token_seq: ids 1.. in order of first appearance
  std::vector<std::vector<int64_t>> tokens;
  std::vector<double> number;                 // float
  std::vector<std::vector<double>> numbers;   // float_seq
  std::vector<std::string> strings;           // text fields
};

class Atomic : public Dataset {
 public:
  Atomic(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {
    for (const char* param : {"item_fields", "user_fields"}) {
      const auto& v = p_.str_list(param);
      if (v.size() > 1 && std::find(v.begin(), v.end(), "*") != v.end())
        throw InputError(std::string("dataset atomic: `") + param + "` [" + join(v) +
                         "] mixes '*' (all columns) with field names; use [\"*\"] alone, or list the fields");
    }
  }

  DomainData load() override {
    const std::string folder = p_.str("path");
    std::string name = p_.str("name");
    if (name.empty()) name = folder_name(folder);
    if (name.empty())
      throw InputError("dataset atomic: cannot take a file name from `path: " + folder + "`; set `name` (the files "
                       "are <path>/<name>.inter, .item, .user)");
    const std::string inter_path = find_data_file((fs::path(folder) / (name + ".inter")).string(), ctx_, kHint);
    const fs::path dir = fs::path(inter_path).parent_path();
    DomainData d;
    d.name = name;
    d.source_files.push_back(inter_path);

    InteractionLog log;
    InteractionLog::Options opt;
    read_inter(inter_path, log, opt);
    const std::vector<int64_t> item_id = log.build(d, opt);

    std::set<std::string> text_found;
    const std::string item_path = (dir / (name + ".item")).string();
    const std::string user_path = (dir / (name + ".user")).string();
    auto item_row = [&](std::string_view raw) {
      const int64_t i = log.items().find(raw);
      return i < 0 ? int64_t{-1} : item_id[static_cast<size_t>(i)];
    };
    auto user_row = [&](std::string_view raw) { return log.users().find(raw); };
    if (read_side(item_path, "item", p_.str("item_field"), "item_fields", d.num_items + 1, item_row, d.item_side,
                  text_found))
      d.source_files.push_back(item_path);
    if (read_side(user_path, "user", p_.str("user_field"), "user_fields", d.num_users(), user_row, d.user_side,
                  text_found))
      d.source_files.push_back(user_path);
    for (auto& t : p_.str_list("text_fields"))
      if (!text_found.count(t))
        throw InputError("dataset atomic: `text_fields` names '" + t + "', which is not a loaded column of " + item_path +
                         " or " + user_path + " (check the files' headers and `item_fields` / `user_fields`)");
    return d;
  }

 private:
  // "data/ml-100k/" -> "ml-100k"
  static std::string folder_name(const std::string& folder) {
    fs::path p = fs::path(folder).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    const std::string n = p.filename().string();
    return n == "." || n == ".." ? "" : n;
  }

  void read_inter(const std::string& path, InteractionLog& log, InteractionLog::Options& opt) {
    AtomicTable t(path);
    const int uc = t.column("user_field", p_.str("user_field"), true);
    const int ic = t.column("item_field", p_.str("item_field"), true);
    // The default time and rating fields are optional; a field the config names must exist.
    const std::string& time_field = p_.str("time_field");
    const std::string& rating_field = p_.str("rating_field");
    const int tc = time_field.empty() ? -1 : t.column("time_field", time_field, time_field != "timestamp");
    const int rc = rating_field.empty() ? -1 : t.column("rating_field", rating_field, rating_field != "rating");
    const double min_rating = p_.real("min_rating");
    if (min_rating > -std::numeric_limits<double>::infinity() && rc < 0)
      throw InputError(t.header_where() + "`min_rating: " + p_.at("min_rating").to_string() +
                       "` needs a rating column, but there is no '" + rating_field + "' (the header has: " +
                       t.header_list() + "); set `rating_field`");
    size_t rows = 0;
    while (t.next_row()) {
      ++rows;
      for (int c : {uc, ic})
        if (trim(t.value(static_cast<size_t>(c))).empty())
          throw InputError(t.where_value(static_cast<size_t>(c)) + " is empty (expected an id)");
      double rating = 0;
      int64_t time = 0;
      if (rc >= 0 && !parse_real(t.value(static_cast<size_t>(rc)), &rating))
        throw InputError(t.where_value(static_cast<size_t>(rc)) + " is not a number (expected a rating)");
      if (tc >= 0 && !parse_time(t.value(static_cast<size_t>(tc)), &time))
        throw InputError(t.where_value(static_cast<size_t>(tc)) + " is not a number (expected a timestamp)");
      if (rating < min_rating) continue;
      log.add(trim(t.value(static_cast<size_t>(uc))), trim(t.value(static_cast<size_t>(ic))),
              static_cast<float>(rating), time);
    }
    if (rows == 0)
      throw InputError(path + ": no interactions (the file has only its header; expected rows of " +
                       t.header_list() + ")");
    if (log.empty())
      throw InputError(path + ": all " + std::to_string(rows) + " interactions have a rating below min_rating = " +
                       p_.at("min_rating").to_string() + "; nothing is left to train on");
    opt.timestamps = tc >= 0;
    opt.sort_by_time = tc >= 0;
    opt.ratings = rc >= 0;
  }

  // Reads the side file at `path` when it exists (returns false when it does not). `row_of` maps a raw key
  // to its row (-1: not in the interactions, so the row is skipped).
  template <class RowOf>
  bool read_side(const std::string& path, const char* what, const std::string& key_field, const char* fields_param,
                 int64_t num_rows, RowOf row_of, SideInfo& out, std::set<std::string>& text_found) {
    const auto& wanted = p_.str_list(fields_param);
    const bool all = wanted.size() == 1 && wanted[0] == "*";
    if (wanted.empty()) return false;  // no side columns wanted: the file is not read at all
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      if (!all)
        throw InputError(std::string("dataset atomic: `") + fields_param + "` names [" + join(wanted) + "] but " +
                         path + " does not exist");
      return false;
    }
    AtomicTable t(path);
    const int kc = t.column(std::string(what) + "_field", key_field, true);

    std::vector<size_t> selected;
    if (all) {
      for (size_t c = 0; c < t.fields().size(); ++c)
        if (static_cast<int>(c) != kc) selected.push_back(c);
    } else {
      for (auto& w : wanted) {
        const int c = t.find(w);
        if (c < 0)
          throw InputError(t.header_where() + "`" + fields_param + "` names '" + w +
                           "', which this file does not have (the header has: " + t.header_list() + ")");
        if (c == kc)
          throw InputError(t.header_where() + "`" + fields_param + "` names '" + w + "', the " + what +
                           " id column itself; list only side fields");
        if (std::find(selected.begin(), selected.end(), static_cast<size_t>(c)) == selected.end())
          selected.push_back(static_cast<size_t>(c));
      }
    }

    const auto& text_fields = p_.str_list("text_fields");
    const auto n = static_cast<size_t>(num_rows);
    std::vector<SideColumn> cols(selected.size());
    for (size_t k = 0; k < selected.size(); ++k) {
      SideColumn& s = cols[k];
      s.col = selected[k];
      s.field = t.fields()[s.col];
      s.text = std::find(text_fields.begin(), text_fields.end(), s.field.name) != text_fields.end();
      if (s.text) {
        if (s.field.type == FieldType::Float || s.field.type == FieldType::FloatSeq)
          throw InputError(t.header_where() + "`text_fields` names '" + s.field.name + "', a numeric column (" +
                           s.field.header + "); expected a token or token_seq column");
        text_found.insert(s.field.name);
        s.strings.assign(n, "");
      } else if (s.field.type == FieldType::Float) {
        s.number.assign(n, kNaN);
      } else if (s.field.type == FieldType::FloatSeq) {
        s.numbers.assign(n, {});
      } else {
        s.tokens.assign(n, {});
      }
    }

    std::vector<size_t> seen_on(n, 0);  // line of each row's entry, 0 = none yet
    std::vector<std::string_view> parts;
    while (t.next_row()) {
      const std::string_view key = trim(t.value(static_cast<size_t>(kc)));
      if (key.empty()) throw InputError(t.where_value(static_cast<size_t>(kc)) + " is empty (expected a " + what + " id)");
      const int64_t row = row_of(key);
      if (row < 0) continue;  // not in the interactions: nothing to attach it to
      const auto r = static_cast<size_t>(row);
      if (seen_on[r])
        throw InputError(t.row().where() + what + " " + quote_token(key) + " already has a row on line " +
                         std::to_string(seen_on[r]));
      seen_on[r] = t.row().line();
      for (auto& s : cols) {
        const std::string_view v = trim(t.value(s.col));
        if (s.text) {
          s.strings[r] = std::string(v);
        } else if (s.field.type == FieldType::Token) {
          if (!v.empty()) s.tokens[r] = {s.vocab.intern(v) + 1};
        } else if (s.field.type == FieldType::TokenSeq) {
          for (auto tok : split_spaces(v, parts)) s.tokens[r].push_back(s.vocab.intern(tok) + 1);
        } else if (s.field.type == FieldType::Float) {
          if (!v.empty() && !parse_real(v, &s.number[r]))
            throw InputError(t.where_value(s.col) + " is not a number");
        } else {
          for (auto tok : split_spaces(v, parts)) {
            double x;
            if (!parse_real(tok, &x))
              throw InputError(t.where_value(s.col) + " holds " + shown(tok) + ", which is not a number");
            s.numbers[r].push_back(x);
          }
        }
      }
    }

    for (auto& s : cols) {
      if (s.text) {
        out.text.push_back({s.field.name, std::move(s.strings)});
      } else if (s.field.type == FieldType::Float) {
        out.numeric.push_back({s.field.name, std::move(s.number)});
      } else if (s.field.type == FieldType::FloatSeq) {
        // One numeric field per position up to the longest row, NaN padded: consumers see fixed columns.
        size_t len = 0;
        for (auto& v : s.numbers) len = std::max(len, v.size());
        for (size_t j = 0; j < len; ++j) {
          NumericFeature f{s.field.name + "[" + std::to_string(j) + "]", std::vector<double>(n, kNaN)};
          for (size_t r = 0; r < n; ++r)
            if (j < s.numbers[r].size()) f.values[r] = s.numbers[r][j];
          out.numeric.push_back(std::move(f));
        }
      } else {
        CategoricalFeature f;
        f.name = s.field.name;
        f.vocab = s.vocab.size();
        f.values = std::move(s.tokens);
        f.labels.reserve(static_cast<size_t>(f.vocab) + 1);
        f.labels.emplace_back("");
        for (int64_t i = 0; i < f.vocab; ++i) f.labels.emplace_back(s.vocab.label(i));
        out.categorical.push_back(std::move(f));
      }
    }
    return true;
  }

  // The space-separated tokens of a token_seq / float_seq value (views into `v`, stored in `parts`).
  static const std::vector<std::string_view>& split_spaces(std::string_view v, std::vector<std::string_view>& parts) {
    parts.clear();
    size_t i = 0;
    while (i < v.size()) {
      while (i < v.size() && v[i] == ' ') ++i;
      size_t j = i;
      while (j < v.size() && v[j] != ' ') ++j;
      if (j > i) parts.push_back(v.substr(i, j - i));
      i = j;
    }
    return parts;
  }

  Params p_;
  PluginContext ctx_;
};

}  // namespace

XREC_PLUGIN("atomic", "1.0.0", "RecBole atomic files (.inter with optional .item/.user side information)") {
  registrar.add_dataset(
      "atomic",
      "Reads RecBole atomic files <path>/<name>.inter (+ optional .item, .user): tab separated, `field:type` "
      "header. Each user's interactions are ordered by time_field (stable). Side columns become categorical "
      "(token, token_seq), numeric (float; float_seq as field[0..k]) or text (text_fields) features.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "Folder holding the files: absolute, or relative to the data roots (e.g. ml-100k)"),
          xrec::param::string("name", "", "File stem (<name>.inter) and domain name; empty = the folder's name"),
          xrec::param::string("user_field", "user_id", "User id column of .inter and key column of .user"),
          xrec::param::string("item_field", "item_id", "Item id column of .inter and key column of .item"),
          xrec::param::string("time_field", "timestamp",
                              "Column that orders each user's interactions (stable); used when present, \"\" = "
                              "keep file order. A name other than the default must exist"),
          xrec::param::string("rating_field", "rating",
                              "Rating column, kept as ratings when present; \"\" = none. A name other than the "
                              "default must exist"),
          xrec::param::real("min_rating", -std::numeric_limits<double>::infinity(),
                            "Drop interactions rated below this (needs the rating column); -.inf = keep all"),
          xrec::param::string_list("item_fields", {"*"},
                                   "Side columns of .item to load: [\"*\"] = all, [] = none, or field names"),
          xrec::param::string_list("user_fields", {"*"},
                                   "Side columns of .user to load: [\"*\"] = all, [] = none, or field names"),
          xrec::param::string_list("text_fields", {},
                                   "token / token_seq side columns that are free text, not categories (ml-100k: "
                                   "[movie_title])"),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<Atomic>(p, ctx); });
}
