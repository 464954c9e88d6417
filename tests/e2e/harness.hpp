#pragma once
// Helpers for end-to-end tests: run the real `xrec` binary, write fixture files, read the store.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "support/temp_dir.hpp"
#include "xrec/store.hpp"

namespace xrec::test {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `BINARY ARGS` through the shell with plugins from PLUGIN_DIR (env: extra VAR='value' assignments;
// cwd: working directory, default the test's); returns exit code and output.
inline Result xrec_cmd_with(const std::string& binary, const std::string& plugin_dir, const std::string& args,
                            const std::string& env = "", const std::string& cwd = "") {
  std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + "XREC_PLUGIN_PATH='" + plugin_dir + "' " + env +
                    " '" + binary + "' " + args + " 2>&1";
  Result r;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe.release());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs the build's `xrec ARGS` with the build's plugins.
inline Result xrec_cmd(const std::string& args, const std::string& env = "", const std::string& cwd = "") {
  return xrec_cmd_with(XREC_TEST_XREC_BIN, XREC_TEST_PLUGIN_DIR, args, env, cwd);
}

// A domain whose next item is always the successor of the current one (mod num_items): a model that
// learns anything ranks the target first.
inline std::string successor_dataset(int users, int items, int length) {
  std::string out;
  for (int u = 0; u < users; ++u) {
    out += "u" + std::to_string(u);
    for (int k = 0; k < length; ++k) out += " " + std::to_string((u * 7 + k) % items + 1);
    out += "\n";
  }
  return out;
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string one_value(const std::string& db, const std::string& sql) {
  Store store(db, /*read_only=*/true);
  auto r = store.query(sql);
  if (r.rows.empty() || r.rows[0].empty() || !r.rows[0][0]) return "";
  return *r.rows[0][0];
}

}  // namespace xrec::test
