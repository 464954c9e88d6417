// Headless Chromium for the report: rendering a page to its DOM (the browser test, timing) and single charts
// to SVG or PNG (`xrec report html --format svg|png`).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/json.hpp"
#include "xrec/report.hpp"

namespace xrec::report {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A private folder removed when the scope ends (Chromium's profile and the page's output).
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "xrec-report-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error("cannot create a temporary folder for Chromium");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string html_unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      static const std::pair<const char*, char> ents[] = {
          {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}};
      bool done = false;
      for (auto& [name, ch] : ents)
        if (s.compare(i, std::char_traits<char>::length(name), name) == 0) {
          out += ch;
          i += std::char_traits<char>::length(name);
          done = true;
          break;
        }
      if (!done && s.compare(i, 6, "&nbsp;") == 0) {
        out += "\xC2\xA0";
        i += 6;
        done = true;
      }
      if (done) continue;
    }
    out += s[i++];
  }
  return out;
}

std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    const int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> find_chromium() {
  if (const char* env = std::getenv("XREC_CHROMIUM"); env && *env) return std::string(env);
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (dir.empty()) continue;
      fs::path candidate = fs::path(dir) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return std::nullopt;
}

BrowserResult render_in_browser(const std::string& chromium, const std::string& html_file, int budget_ms) {
  TempDir tmp;
  const fs::path out = tmp.path / "dom.html", err = tmp.path / "chromium.log";
  // --no-sandbox: Chromium refuses to run as root (containers, CI) with its sandbox on. The private profile
  // lets several renders run at once.
  const std::string cmd = "timeout 300 " + shell_quote(chromium) +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                          " --enable-logging=stderr --v=0 --user-data-dir=" +
                          shell_quote((tmp.path / "profile").string()) +
                          " --virtual-time-budget=" + std::to_string(budget_ms) + " --dump-dom " +
                          shell_quote("file://" + fs::absolute(html_file).string()) + " >" + shell_quote(out.string()) +
                          " 2>" + shell_quote(err.string());
  const auto start = std::chrono::steady_clock::now();
  const int rc = std::system(cmd.c_str());
  BrowserResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.dom = read_all(out);
  r.log = read_all(err);
  return r;
}

std::vector<std::string> console_errors(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    // "[pid:tid:time:INFO:CONSOLE:1] "message", source: ..." (older builds: CONSOLE(1)); the level is not
    // printed, so errors are told by their text (the page also records console.error in data-errors).
    if (line.find(":CONSOLE") != std::string::npos &&
        (line.find("Error") != std::string::npos || line.find("Uncaught") != std::string::npos ||
         line.find("error") != std::string::npos))
      out.push_back(line);
  return out;
}

std::string export_chart(const Chart& chart, const std::string& format, const std::string& vega_js) {
  if (format != "svg" && format != "png") throw InputError("--format: expected html, svg or png, got '" + format + "'");
  auto chromium = find_chromium();
  if (!chromium)
    throw InputError("--format " + format +
                     " draws the chart in headless Chromium, which was not found: install Debian's `chromium` package "
                     "(cmake/setup-debian.sh does), or set $XREC_CHROMIUM to the browser");
  TempDir tmp;
  const fs::path page = tmp.path / "chart.html";
  const std::string call = format == "svg" ? "view.toSVG()" : "view.toImageURL('png', 2)";
  {
    std::ofstream f(page, std::ios::binary);
    f << "<!DOCTYPE html><html><head><meta charset=utf-8></head><body><div id=chart></div><pre "
         "id=xrec-out></pre><script>"
      << escape_inline_script(vega_js.empty() ? vega_bundle() : vega_js) << "</script><script>\nvegaEmbed('#chart', "
      << escape_inline_script(chart.spec)
      << ", {renderer: 'svg', actions: false}).then(r => { const view = r.view; return " << call
      << "; }).then(out => { document.getElementById('xrec-out').textContent = out; })"
      << ".catch(e => { document.body.setAttribute('data-error', String(e)); });\n</script></body></html>\n";
  }
  BrowserResult r = render_in_browser(*chromium, page.string());
  const std::string open = "<pre id=\"xrec-out\">";
  const size_t a = r.dom.find(open), b = a == std::string::npos ? a : r.dom.find("</pre>", a);
  std::string text = a == std::string::npos || b == std::string::npos
                         ? ""
                         : html_unescape(r.dom.substr(a + open.size(), b - a - open.size()));
  if (text.empty())
    throw Error("chart '" + chart.title + "' did not render in Chromium (exit " + std::to_string(r.exit_code) +
                "): " + (console_errors(r.log).empty() ? r.log.substr(0, 400) : console_errors(r.log).front()));
  if (format == "svg") return text;
  const std::string prefix = "data:image/png;base64,";
  if (text.rfind(prefix, 0) != 0) throw Error("chart '" + chart.title + "': Chromium returned no PNG");
  return base64_decode(text.substr(prefix.size()));
}

}  // namespace xrec::report
