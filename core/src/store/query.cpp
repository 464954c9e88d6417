// The run store: running SQL for `xrec query` and the views.
#include "xrec/store.hpp"

#include <string>

#include "internal.hpp"

namespace xrec {

using namespace store_detail;

namespace {

// Denies what a read-only query must not do even though sqlite3_stmt_readonly() allows it: attaching
// files (which may create them) and transaction control (which would leave the connection locked).
int read_only_authorizer(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      return SQLITE_DENY;
    default:
      return SQLITE_OK;
  }
}

}  // namespace

QueryResult Store::query(const std::string& sql, bool read_only) const {
  if (!read_only && read_only_)
    throw Error("query: the store " + path_ + " was opened read-only; a writing query needs --write");
  if (read_only) sqlite3_set_authorizer(db_, read_only_authorizer, nullptr);
  Finalizer stmt;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt.stmt, &tail);
  if (read_only) sqlite3_set_authorizer(db_, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db_);
    if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_AUTH)
      why = "attaching databases and transaction control are not allowed in a read-only query";
    else if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
      fail_sqlite("query");
    throw InputError("query: " + why + " in: " + shorten(sql, 200));
  }
  if (!stmt.stmt) throw InputError("query: no SQL statement given");
  // Anything after the first statement must be whitespace or comments (which prepare to no statement).
  if (tail && *tail) {
    Finalizer next;
    int next_rc = sqlite3_prepare_v2(db_, tail, -1, &next.stmt, nullptr);
    if (next_rc != SQLITE_OK || next.stmt) {
      std::string rest = tail;
      rest.erase(0, rest.find_first_not_of(" \t\r\n"));
      throw InputError("query: only one SQL statement is allowed; found more after the first: '" +
                       shorten(rest, 60) + "'");
    }
  }
  const bool writes = !sqlite3_stmt_readonly(stmt.stmt);
  if (read_only && writes)
    throw InputError("query: the statement writes to the store (" + shorten(sql, 80) +
                     "); queries are read-only unless --write is given");

  QueryResult result;
  const int columns = sqlite3_column_count(stmt.stmt);
  for (int c = 0; c < columns; ++c) {
    const char* name = sqlite3_column_name(stmt.stmt, c);
    result.columns.push_back(name ? name : "");
  }
  while ((rc = sqlite3_step(stmt.stmt)) == SQLITE_ROW) {
    auto& row = result.rows.emplace_back();
    auto& types = result.types.emplace_back();
    row.reserve(static_cast<size_t>(columns));
    types.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt.stmt, c)) {
        case SQLITE_NULL:
          row.emplace_back(std::nullopt);
          types.push_back(SqlType::Null);
          break;
        case SQLITE_INTEGER:
          row.emplace_back(column_text(stmt.stmt, c));
          types.push_back(SqlType::Integer);
          break;
        case SQLITE_FLOAT:
          row.emplace_back(column_text(stmt.stmt, c));  // SQLite's "%!.15g": 0.1, 1.0, 0.333333333333333
          types.push_back(SqlType::Real);
          break;
        case SQLITE_BLOB: {
          const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt.stmt, c));
          int size = sqlite3_column_bytes(stmt.stmt, c);
          std::string hex = "X'";
          static const char* digits = "0123456789ABCDEF";
          for (int i = 0; i < size; ++i) {
            hex.push_back(digits[bytes[i] >> 4]);
            hex.push_back(digits[bytes[i] & 0xf]);
          }
          row.emplace_back(hex + "'");
          types.push_back(SqlType::Blob);
          break;
        }
        default:
          row.emplace_back(column_text(stmt.stmt, c));
          types.push_back(SqlType::Text);
          break;
      }
    }
  }
  if (rc != SQLITE_DONE) fail_sqlite("query '" + shorten(sql, 80) + "'");
  if (writes) result.changes = sqlite3_changes64(db_);
  return result;
}

}  // namespace xrec
