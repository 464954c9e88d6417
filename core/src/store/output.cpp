// Query results as CSV and JSON.
#include "xrec/store.hpp"

#include "xrec/json.hpp"

#include "internal.hpp"

namespace xrec {

using namespace store_detail;

std::string to_csv(const QueryResult& result) {
  auto field = [](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string quoted = "\"";
    for (char ch : v) {
      if (ch == '"') quoted += '"';
      quoted += ch;
    }
    return quoted + "\"";
  };
  std::string out;
  for (size_t c = 0; c < result.columns.size(); ++c) out += (c ? "," : "") + field(result.columns[c]);
  out += "\r\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + (row[c] ? field(*row[c]) : std::string());
    out += "\r\n";
  }
  return out;
}

std::string to_json(const QueryResult& result) {
  std::string out = "[";
  for (size_t r = 0; r < result.rows.size(); ++r) {
    out += r ? ",\n  {" : "\n  {";
    const auto& row = result.rows[r];
    for (size_t c = 0; c < row.size() && c < result.columns.size(); ++c) {
      out += (c ? ", " : "") + json::quote(result.columns[c]) + ": ";
      SqlType type =
          r < result.types.size() && c < result.types[r].size() ? result.types[r][c] : SqlType::Text;
      if (!row[c] || type == SqlType::Null) {
        out += "null";
      } else if (type == SqlType::Integer) {
        out += *row[c];
      } else if (type == SqlType::Real) {
        // SQLite prints infinities as Inf/-Inf, which JSON cannot hold.
        out += row[c]->find("Inf") == std::string::npos ? *row[c] : "null";
      } else {
        out += json::quote(*row[c]);
      }
    }
    out += "}";
  }
  out += result.rows.empty() ? "]\n" : "\n]\n";
  return out;
}

}  // namespace xrec
