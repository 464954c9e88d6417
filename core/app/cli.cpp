#include "cli.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "xrec/api/errors.hpp"

namespace xrec::cli {

std::optional<std::string> Args::option(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Args parse(const std::string& command, const std::vector<std::string>& argv,
           const std::set<std::string>& value_options, const std::set<std::string>& flag_options) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (flag_options.count(name)) {
        if (has_value) throw InputError("--" + name + " takes no value");
        a.flags.insert(name);
      } else if (value_options.count(name)) {
        if (!has_value) {
          if (i + 1 >= argv.size()) throw InputError("--" + name + " needs a value");
          value = argv[++i];
        }
        a.options[name] = value;
      } else {
        std::string known;
        for (auto& o : value_options) known += " --" + o;
        for (auto& o : flag_options) known += " --" + o;
        throw InputError("unknown option --" + name + " (options:" + known + ")");
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

std::string db_path(const Args& args) {
  if (auto db = args.option("db")) {
    if (db->empty()) throw InputError("--db is empty: give a store file (e.g. --db runs/xrec.db)");
    return *db;
  }
  if (const char* env = std::getenv("XREC_DB")) {
    if (!*env) throw InputError("$XREC_DB is set but empty: give a store file, or unset it for runs/xrec.db");
    return env;
  }
  return "runs/xrec.db";
}

int64_t parse_run_id(const std::string& text) {
  size_t used = 0;
  long long id = -1;
  try {
    id = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || id <= 0) throw InputError("expected a run id (a whole number >= 1), got '" + text + "'");
  return id;
}

// Columns on screen: UTF-8 continuation bytes take no column (the sweep leaderboard prints "±").
static size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

void print_table(const std::vector<std::string>& columns,
                 const std::vector<std::vector<std::optional<std::string>>>& rows) {
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) width[c] = display_width(columns[c]);
  auto cell = [](const std::optional<std::string>& v) { return v ? *v : std::string("NULL"); };
  // Cells are cut at 60 characters to keep rows on screen, except in the last column (paths, errors).
  auto cut = [&](size_t c) { return c + 1 < columns.size() ? size_t{60} : std::string::npos; };
  for (auto& r : rows)
    for (size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], std::min(display_width(cell(r[c])), cut(c)));
  auto line = [&](auto get) {
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string v = get(c);
      if (v.size() > cut(c)) v = v.substr(0, cut(c) - 3) + "...";
      std::cout << v << std::string(width[c] - std::min(width[c], display_width(v)) + (c + 1 < columns.size() ? 2 : 0), ' ');
    }
    std::cout << '\n';
  };
  line([&](size_t c) { return columns[c]; });
  line([&](size_t c) { return std::string(width[c], '-'); });
  for (auto& r : rows) line([&](size_t c) { return c < r.size() ? cell(r[c]) : std::string(); });
}

}  // namespace xrec::cli
