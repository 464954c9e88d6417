// The run store: whether the process behind a running row is alive; closing abandoned runs.
#include "xrec/store.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include "internal.hpp"

namespace xrec {

using namespace store_detail;

namespace store_detail {

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// Whether `pid` is a live process that could be the one that started a run at `run_started` (Unix
// seconds). A zombie is dead; a process that started after the run is a later process reusing the pid.
bool process_alive(int64_t pid, double run_started) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  // Linux only from here: without /proc, a pid that exists counts as alive.
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return true;
  size_t paren = stat.rfind(')');  // the command name (field 2) may hold spaces and parentheses
  if (paren == std::string::npos) return true;
  std::istringstream fields(stat.substr(paren + 1));
  std::string state, field;
  fields >> state;
  if (state == "Z" || state == "X") return false;
  // Field 22 is the start time in clock ticks after boot; fields 4..21 lie between.
  for (int i = 4; i <= 21 && fields >> field;) ++i;
  unsigned long long start_ticks = 0;
  if (!(fields >> start_ticks)) return true;
  std::ifstream proc_stat("/proc/stat");
  std::string key;
  long long boot_time = -1;
  while (proc_stat >> key) {
    if (key == "btime") {
      proc_stat >> boot_time;
      break;
    }
    proc_stat.ignore(1 << 20, '\n');
  }
  long ticks = sysconf(_SC_CLK_TCK);
  if (boot_time < 0 || ticks <= 0) return true;
  double process_started = static_cast<double>(boot_time) + static_cast<double>(start_ticks) / ticks;
  return process_started <= run_started + 2.0;  // btime has whole seconds: allow some slack
}

}  // namespace store_detail

int Store::reconcile_stale_runs() {
  if (read_only_) throw Error("reconcile_stale_runs: the store " + path_ + " was opened read-only");
  auto fail = [this](const std::string& what) { fail_sqlite("reconcile_stale_runs: " + what); };
  const std::string host = this_host();
  Transaction tx(db_, fail, write_patience_ms_);
  struct Stale {
    int64_t id, pid;
  };
  std::vector<Stale> stale;
  {
    sqlite3_stmt* s = statement(
        "SELECT id, pid, (julianday(coalesce(resumed_at, started_at)) - 2440587.5) * 86400.0 FROM runs"
        " WHERE status = 'running' AND host = ?");
    Reset reset{s};
    bind_text(s, 1, host);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      int64_t pid = sqlite3_column_int64(s, 1);
      if (!process_alive(pid, sqlite3_column_double(s, 2)))
        stale.push_back({sqlite3_column_int64(s, 0), pid});
    }
    if (rc != SQLITE_DONE) fail("listing running runs");
  }
  // The process died at some unknown time: the run's last write to the store is the best end time.
  sqlite3_stmt* u = statement(
      "UPDATE runs SET status = 'interrupted',"
      " ended_at = max(started_at,"
      "   coalesce((SELECT max(logged_at) FROM metrics WHERE run_id = runs.id), started_at),"
      "   coalesce((SELECT max(created_at) FROM artifacts WHERE run_id = runs.id), started_at)),"
      " error = ? || " XREC_NOW_SQL
      " || '; ended_at is its last write to the store)'"
      " WHERE id = ? AND status = 'running'");
  for (const Stale& run : stale) {
    Reset reset{u};
    bind_text(u, 1,
              "process " + std::to_string(run.pid) + " on host " + host +
                  " ended without closing the run (noticed at ");
    sqlite3_bind_int64(u, 2, run.id);
    if (sqlite3_step(u) != SQLITE_DONE) fail("closing run " + std::to_string(run.id));
  }
  tx.commit(fail);
  return static_cast<int>(stale.size());
}

}  // namespace xrec
