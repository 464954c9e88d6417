#include "xrec/loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/plugin_file.hpp"

// Build-tree and install locations, compiled in by core/CMakeLists.txt. The fallbacks keep this file
// compiling in a throwaway build; the real values always come from CMake.
#ifndef XREC_BUILD_PLUGIN_DIR
#define XREC_BUILD_PLUGIN_DIR ""
#endif
#ifndef XREC_INSTALL_PLUGIN_DIR
#define XREC_INSTALL_PLUGIN_DIR ""
#endif
// The folder the build writes executables to: an executable there is "running from the build tree".
#ifndef XREC_BUILD_BIN_DIR
#define XREC_BUILD_BIN_DIR ""
#endif
// The installed plugin folder relative to the installed executable's folder (e.g. ../lib/xrec/plugins),
// so that an installed tree still finds its plugins after it is moved or installed with --prefix.
#ifndef XREC_INSTALL_PLUGIN_DIR_FROM_BIN
#define XREC_INSTALL_PLUGIN_DIR_FROM_BIN "../lib/xrec/plugins"
#endif

namespace xrec {

namespace fs = std::filesystem;

namespace {

// Every library ever opened stays open until the process ends: LibTorch registrations, static objects
// and factories of a plugin may be referenced long after loading, and a library's static initializers
// run inside dlopen, so even a rejected library may have left something behind. The vector is leaked
// on purpose so that no destructor calls dlclose during static destruction at exit.
void keep_loaded(std::unique_ptr<boost::dll::shared_library> lib) {
  static std::mutex mutex;
  static auto* libraries = new std::vector<std::unique_ptr<boost::dll::shared_library>>();
  std::lock_guard<std::mutex> lock(mutex);
  libraries->push_back(std::move(lib));
}

std::string str(const char* s) { return s ? std::string(s) : std::string("(null)"); }

// The library's base name: "sasrec" for /x/sasrec.so.
std::string base_name(const fs::path& p) {
  std::string file = p.filename().string();
  const std::string so = ".so";
  if (file.size() > so.size() && file.compare(file.size() - so.size(), so.size(), so) == 0)
    return file.substr(0, file.size() - so.size());
  return p.stem().string();
}

// Compares the file descriptor's build facts and name with the host's; returns "" when all match.
std::string check_facts(const PluginFileDescriptor& d, const std::string& expected_name) {
  std::vector<std::string> facts;
  auto fact = [&](const char* what, const std::string& expected, const std::string& found) {
    if (expected != found) facts.push_back(std::string(what) + " expected " + expected + ", found " + found);
  };
  fact("api_version", std::to_string(XREC_API_VERSION), d.api_version);
  fact("torch_version", XREC_TORCH_VERSION, d.torch_version);
  fact("compiler", XREC_COMPILER_ID, d.compiler);
  fact("cxx_abi", XREC_CXX_ABI, d.cxx_abi);
  fact("device", XREC_DEVICE_KIND, d.device);

  std::string msg;
  if (!facts.empty()) {
    msg = "built for another host: ";
    for (size_t i = 0; i < facts.size(); ++i) msg += (i ? "; " : "") + facts[i];
  }
  if (d.name != expected_name) {
    msg += std::string(msg.empty() ? "" : "; ") + "plugin name expected " + expected_name +
           " (the library's base name), found " + d.name;
  }
  return msg;
}

// The loaded library's in-memory descriptor must say what its file said; "" when it does.
std::string check_same(const PluginFileDescriptor& file, const PluginDescriptor& mem) {
  std::vector<std::string> diffs;
  auto same = [&](const char* what, const std::string& f, const std::string& m) {
    if (f != m) diffs.push_back(std::string(what) + " file " + f + ", memory " + m);
  };
  same("api_version", file.api_version, std::to_string(mem.api_version));
  same("name", file.name, str(mem.name));
  same("version", file.version, str(mem.version));
  same("description", file.description, str(mem.description));
  same("xrec_version", file.xrec_version, str(mem.xrec_version));
  same("torch_version", file.torch_version, str(mem.torch_version));
  same("compiler", file.compiler, str(mem.compiler));
  same("cxx_abi", file.cxx_abi, str(mem.cxx_abi));
  same("device", file.device, str(mem.device));
  if (diffs.empty()) return mem.register_components ? "" : "descriptor has no register_components function";
  std::string msg = std::string("the loaded descriptor differs from the file's ") + kPluginSectionName + " section: ";
  for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  return msg;
}

// Collects a plugin's components so that they reach the registry all together or not at all.
class StagingRegistrar : public Registrar {
 public:
  StagingRegistrar(std::string plugin, std::string path)
      : plugin_(std::move(plugin)), path_(std::move(path)) {}

  void add_component(Kind kind, const std::string& name, const std::string& doc, ParamSpecs params,
                     AnyFactory factory) override {
    Component c;
    c.kind = kind;
    c.name = name;
    c.doc = doc;
    c.params = std::move(params);
    c.plugin = plugin_;
    c.path = path_;
    c.factory = std::move(factory);
    c.factory_kind = kind;  // the typed add<T> wrappers pass kind_of<T>()
    components_.push_back(std::move(c));
  }

  std::vector<Component>& components() { return components_; }

 private:
  std::string plugin_, path_;
  std::vector<Component> components_;
};

std::string label(const Component& c) { return std::string(to_string(c.kind)) + " '" + c.name + "'"; }

// Checks a staged plugin against itself and the registry; returns "" when it can be committed.
std::string check_staged(const std::vector<Component>& staged, const Registry& registry) {
  std::set<std::pair<Kind, std::string>> seen;
  for (const Component& c : staged) {
    if (static_cast<size_t>(c.kind) >= all_kinds().size())
      return "registers a component of unknown kind " + std::to_string(static_cast<int>(c.kind)) +
             " (this host knows " + std::to_string(all_kinds().size()) + " kinds)";
    if (c.name.empty()) return std::string("registers a ") + to_string(c.kind) + " with an empty name";
    if (!c.has_factory()) return label(c) + " has no factory";
    if (!seen.insert({c.kind, c.name}).second) return label(c) + " is registered twice by this plugin";
    if (const Component* other = registry.find(c.kind, c.name)) {
      std::string by =
          other->plugin.empty() ? "the host" : "plugin '" + other->plugin + "' from " + other->path;
      return label(c) + " is already registered by " + by +
             "; none of this plugin's components were registered";
    }
    std::set<std::string> keys;
    for (const ParamSpec& p : c.params) {
      if (p.name.empty()) return label(c) + " declares a parameter with an empty name";
      if (!keys.insert(p.name).second) return label(c) + " declares parameter '" + p.name + "' twice";
      if (!p.required()) {
        if (std::string expected = p.check(p.default_value); !expected.empty())
          return label(c) + ": default of parameter '" + p.name + "' is " + p.default_value.to_string() +
                 ", expected " + expected;
      }
    }
  }
  return "";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool PluginLoader::load_file(const std::string& path) {
  std::error_code ec;
  const fs::path canon = fs::canonical(path, ec);
  if (ec) {
    problems_.push_back({path, "cannot open: " + ec.message()});
    return false;
  }
  const std::string where = canon.string();

  // The same file reached twice (a folder listed twice, a symlink): report it once, load it once.
  for (const LoadedPlugin& p : plugins_)
    if (p.path == where) return true;
  for (const PluginProblem& p : problems_)
    if (p.path == where) return false;

  auto problem = [&](const std::string& message) {
    problems_.push_back({where, message});
    return false;
  };

  // The file's descriptor is read and checked before dlopen: a library built for another host, and a
  // truncated or malformed file (which can crash dlopen itself), never run a line of their code.
  const PluginFileResult file = read_plugin_file(where);
  if (!file.descriptor) return problem(file.error);
  const std::string name = base_name(canon);
  if (std::string mismatch = check_facts(*file.descriptor, name); !mismatch.empty()) return problem(mismatch);

  // RTLD_NOW: a library with unresolved symbols fails here, with the linker's message, instead of
  // crashing on first use. RTLD_LOCAL: plugins cannot see each other's symbols.
  auto lib = std::make_unique<boost::dll::shared_library>();
  dlerror();  // clear any stale message
  lib->load(canon, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !lib->is_loaded()) {
    const char* err = dlerror();
    return problem("not a loadable library: " + (err ? std::string(err) : ec.message()));
  }
  boost::dll::shared_library& library = *lib;
  keep_loaded(std::move(lib));  // its static initializers have run: never unload it

  if (!library.has("xrec_plugin_entry")) return problem("not an xrec plugin (no xrec_plugin_entry)");

  const PluginDescriptor* d = nullptr;
  try {
    d = library.get_alias<PluginEntry>("xrec_plugin_entry")();
  } catch (const std::exception& e) {
    return problem(std::string("xrec_plugin_entry threw: ") + e.what());
  } catch (...) {
    return problem("xrec_plugin_entry threw a non-standard exception");
  }
  if (!d) return problem("not an xrec plugin (xrec_plugin_entry returned no descriptor)");
  if (std::string differs = check_same(*file.descriptor, *d); !differs.empty()) return problem(differs);

  for (const LoadedPlugin& p : plugins_)
    if (p.name == name) return problem("plugin '" + name + "' is already loaded from " + p.path);

  StagingRegistrar staging(name, where);
  try {
    d->register_components(staging);
  } catch (const std::exception& e) {
    return problem(std::string("registration threw: ") + e.what());
  } catch (...) {
    return problem("registration threw a non-standard exception");
  }
  if (std::string bad = check_staged(staging.components(), registry_); !bad.empty()) return problem(bad);

  LoadedPlugin loaded;
  loaded.sha256 = file.sha256;  // of the bytes whose descriptor was checked
  loaded.name = name;
  loaded.version = str(d->version);
  loaded.description = str(d->description);
  loaded.path = where;
  loaded.xrec_version = str(d->xrec_version);
  loaded.torch_version = str(d->torch_version);
  loaded.compiler = str(d->compiler);
  loaded.cxx_abi = str(d->cxx_abi);
  loaded.device = str(d->device);
  for (Component& c : staging.components()) {
    loaded.components.emplace_back(c.kind, c.name);
    registry_.add(std::move(c));  // cannot clash: check_staged looked at the registry just now
  }
  plugins_.push_back(std::move(loaded));
  return true;
}

void PluginLoader::load_dirs(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;  // default folders may legitimately be absent
    if (!fs::is_directory(dir, ec)) {
      problems_.push_back({dir, "not a folder (plugin paths name folders that hold *.so files)"});
      continue;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      std::error_code type_ec;
      if (ends_with(p.filename().string(), ".so") && fs::is_regular_file(p, type_ec)) files.push_back(p);
    }
    if (ec) {
      problems_.push_back({dir, "cannot list the folder: " + ec.message()});
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) load_file(f.string());
  }
}

const LoadedPlugin* PluginLoader::provider(Kind kind, const std::string& name) const {
  for (const LoadedPlugin& p : plugins_)
    for (auto& c : p.components)
      if (c.first == kind && c.second == name) return &p;
  return nullptr;
}

std::vector<std::string> default_plugin_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("XREC_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }

  // Exactly one of the build tree and the install is searched, never both: they usually hold two
  // builds of the same plugins, and the second copy of a name would be rejected as a duplicate.
  // An executable in the build's bin folder (xrec, the tests) uses the build's plugins; any other
  // executable (an install, possibly moved or installed with --prefix) uses the plugin folder next to
  // it, falling back to the configured install folder.
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  const fs::path exe_dir = ec ? fs::path() : exe.parent_path();
  std::error_code bin_ec;
  const fs::path build_bin =
      std::string(XREC_BUILD_BIN_DIR).empty() ? fs::path() : fs::canonical(XREC_BUILD_BIN_DIR, bin_ec);
  const bool in_build_tree = !exe_dir.empty() && !bin_ec && !build_bin.empty() && exe_dir == build_bin;

  if (in_build_tree) {
    if (fs::is_directory(XREC_BUILD_PLUGIN_DIR, ec)) dirs.push_back(XREC_BUILD_PLUGIN_DIR);
  } else {
    const fs::path beside =
        exe_dir.empty() ? fs::path() : (exe_dir / XREC_INSTALL_PLUGIN_DIR_FROM_BIN).lexically_normal();
    if (!beside.empty() && fs::is_directory(beside, ec))
      dirs.push_back(beside.string());
    else if (!std::string(XREC_INSTALL_PLUGIN_DIR).empty())
      dirs.push_back(XREC_INSTALL_PLUGIN_DIR);
  }
  return dirs;
}

}  // namespace xrec
