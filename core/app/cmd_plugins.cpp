// `xrec plugins list` and `xrec plugins inspect NAME`: what the plugin folders provide, and every
// component's parameters as the config validates them (gst-inspect style).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "cli.hpp"
#include "xrec/engine/builtins.hpp"
#include "xrec/json.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/loader.hpp"
#include "xrec/suggest.hpp"

namespace xrec::cli {

namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: xrec plugins list [--plugin-path DIR]... [--json]\n"
    "       xrec plugins inspect NAME [--plugin-path DIR]... [--json]\n"
    "Plugins are searched in --plugin-path folders, then $XREC_PLUGIN_PATH (':'-separated), then the\n"
    "build's or the installation's plugin folder. NAME is a plugin or a component name.\n";

// Everything the plugin folders provide, with what could not be loaded.
struct Loaded {
  Loaded() { engine::register_builtin_components(registry); }  // the host's own components (`id` encoder)
  Registry registry;
  PluginLoader loader{registry};
  std::vector<std::string> searched;
};

// Takes every --plugin-path out of argv (cli::parse keeps only the last value of an option, and this
// one may repeat); each value may itself be ':'-separated.
std::vector<std::string> take_plugin_paths(const std::string& command, std::vector<std::string>& argv) {
  std::vector<std::string> paths, rest;
  const std::string opt = "--plugin-path";
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string value;
    if (argv[i] == opt) {
      if (i + 1 >= argv.size()) throw InputError(command + ": " + opt + " needs a value (a plugin folder)");
      value = argv[++i];
    } else if (argv[i].rfind(opt + "=", 0) == 0) {
      value = argv[i].substr(opt.size() + 1);
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = std::min(value.find(':', start), value.size());
      if (end > start) paths.push_back(value.substr(start, end - start));
      start = end + 1;
    }
  }
  argv = std::move(rest);
  return paths;
}

// Command-line folders come first, so their plugins win over same-named ones found later.
void load(Loaded& l, const std::vector<std::string>& extra) {
  l.searched = extra;
  for (auto& d : default_plugin_dirs()) l.searched.push_back(d);
  for (const std::string& p : l.searched) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec))
      l.loader.load_file(p);  // a single library is accepted too
    else
      l.loader.load_dirs({p});
  }
}

// After the listing, so that the output reads top-down: what loaded, then what did not.
void print_problems(const Loaded& l) {
  std::cout.flush();
  for (const PluginProblem& p : l.loader.problems())
    std::cerr << "skipped " << p.path << ": " << p.message << '\n';
}

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string searched_text(const Loaded& l) {
  if (l.searched.empty()) return "no plugin folder to search";
  std::vector<std::string> marked;
  for (const std::string& d : l.searched) {
    std::error_code ec;
    marked.push_back(fs::exists(d, ec) ? d : d + " (missing)");
  }
  return "searched: " + joined(marked, ", ");
}

void write_facts(json::Writer& w, const LoadedPlugin& p) {
  w.member("name", p.name)
      .member("version", p.version)
      .member("description", p.description)
      .member("path", p.path)
      .member("sha256", p.sha256)
      .member("xrec_version", p.xrec_version)
      .member("torch_version", p.torch_version)
      .member("compiler", p.compiler)
      .member("cxx_abi", p.cxx_abi)
      .member("device", p.device);
}

void write_problems(json::Writer& w, const PluginLoader& loader) {
  w.key("problems").begin_array();
  for (const PluginProblem& p : loader.problems())
    w.begin_object().member("path", p.path).member("message", p.message).end_object();
  w.end_array();
}

int list(const std::vector<std::string>& argv, const std::vector<std::string>& extra) {
  Args args = parse("plugins list", argv, {}, {"json"});
  if (!args.positional.empty())
    throw InputError("plugins list: unexpected argument '" + args.positional[0] + "'\n" + kUsage);
  Loaded l;
  load(l, extra);
  const auto& plugins = l.loader.plugins();

  if (args.flag("json")) {
    json::Writer w;
    w.begin_object().key("plugins").begin_array();
    for (const LoadedPlugin& p : plugins) {
      w.begin_object();
      write_facts(w, p);
      w.key("components").begin_array();
      for (auto& [kind, name] : p.components)
        w.begin_object().member("kind", to_string(kind)).member("name", name).end_object();
      w.end_array().end_object();
    }
    w.end_array();
    write_problems(w, l.loader);
    w.end_object();
    std::cout << w.str() << '\n';
    print_problems(l);
    return 0;
  }

  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const LoadedPlugin& p : plugins) {
    if (p.components.empty()) rows.push_back({p.name, p.version, "-", "-", p.path});
    for (auto& [kind, name] : p.components)
      rows.push_back({p.name, p.version, to_string(kind), name, p.path});
  }
  print_table({"plugin", "version", "kind", "component", "path"}, rows);
  print_problems(l);
  if (plugins.empty()) std::cerr << "no plugins loaded (" << searched_text(l) << ")\n";
  return 0;
}

void print_component(const Component& c) {
  std::cout << '\n' << to_string(c.kind) << ' ' << c.name << '\n';
  if (!c.doc.empty()) std::cout << "  " << c.doc << '\n';
  std::cout << "  (a " << to_string(c.kind) << ": " << kind_doc(c.kind) << ")\n";  // from the kind table
  if (c.params.empty()) {
    std::cout << "\n  Parameters: none\n";
    return;
  }
  size_t width = 12;
  for (const ParamSpec& p : c.params) width = std::max(width, p.name.size() + 2);
  std::cout << "\n  Parameters:\n";
  for (const ParamSpec& p : c.params) {
    const std::string def = p.required() ? "required" : "default " + p.default_value.to_string();
    std::cout << "    " << p.name << std::string(width - p.name.size(), ' ') << p.describe_type() << "; "
              << def << '\n';
    if (!p.doc.empty()) std::cout << "    " << std::string(width, ' ') << p.doc << '\n';
  }
}

void write_component(json::Writer& w, const Component& c) {
  w.begin_object()
      .member("kind", to_string(c.kind))
      .member("kind_doc", kind_doc(c.kind))
      .member("name", c.name)
      .member("doc", c.doc);
  w.key("params").begin_array();
  for (const ParamSpec& p : c.params) {
    w.begin_object()
        .member("name", p.name)
        .member("type", to_string(p.type))
        .member("type_description", p.describe_type())
        .member("required", p.required())
        .member("default", p.default_value);
    w.key("min");
    p.min ? w.value(*p.min) : w.null();
    w.key("max");
    p.max ? w.value(*p.max) : w.null();
    w.key("choices").list(p.choices);
    w.member("doc", p.doc).end_object();
  }
  w.end_array().end_object();
}

std::string library_base_name(const std::string& path) {
  std::string file = fs::path(path).filename().string();
  return file.size() > 3 && file.compare(file.size() - 3, 3, ".so") == 0 ? file.substr(0, file.size() - 3)
                                                                         : file;
}

int inspect(const std::vector<std::string>& argv, const std::vector<std::string>& extra) {
  Args args = parse("plugins inspect", argv, {}, {"json"});
  if (args.positional.size() != 1)
    throw InputError("plugins inspect: expected one NAME (a plugin or a component), got " +
                     std::to_string(args.positional.size()) + "\n" + kUsage);
  const std::string& name = args.positional[0];
  Loaded l;
  load(l, extra);

  // What to show: a plugin with all its components, or each plugin providing a component of that name.
  std::vector<std::pair<const LoadedPlugin*, std::vector<const Component*>>> shown;
  for (const LoadedPlugin& p : l.loader.plugins()) {
    std::vector<const Component*> comps;
    for (auto& [kind, cname] : p.components)
      if (p.name == name || cname == name) comps.push_back(l.registry.find(kind, cname));
    if (p.name == name || !comps.empty()) shown.emplace_back(&p, std::move(comps));
  }
  // A plugin name wins over a component of the same name (sasrec.so providing backbone sasrec).
  auto exact = std::find_if(shown.begin(), shown.end(), [&](auto& s) { return s.first->name == name; });
  if (exact != shown.end()) shown = {*exact};

  if (shown.empty()) {
    for (const PluginProblem& p : l.loader.problems())
      if (library_base_name(p.path) == name)
        throw InputError("plugin '" + name + "' was found but not loaded: " + p.path + ": " + p.message);
    print_problems(l);  // one of them may explain why NAME is missing
    std::vector<std::string> known;
    for (const LoadedPlugin& p : l.loader.plugins()) {
      known.push_back(p.name);
      for (auto& c : p.components) known.push_back(c.second);
    }
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    if (known.empty())
      throw InputError("unknown plugin or component '" + name + "': no plugins loaded (" + searched_text(l) +
                       ")");
    const std::string hint = did_you_mean(name, known);
    throw InputError("unknown plugin or component '" + name + "'" + hint +
                     (hint.empty() ? "; known: " : " known: ") + joined(known, ", "));
  }

  if (args.flag("json")) {
    json::Writer w;
    w.begin_object().key("plugins").begin_array();
    for (auto& [p, comps] : shown) {
      w.begin_object();
      write_facts(w, *p);
      w.key("components").begin_array();
      for (const Component* c : comps) write_component(w, *c);
      w.end_array().end_object();
    }
    w.end_array();
    write_problems(w, l.loader);
    w.end_object();
    std::cout << w.str() << '\n';
    print_problems(l);
    return 0;
  }

  for (size_t i = 0; i < shown.size(); ++i) {
    const LoadedPlugin& p = *shown[i].first;
    if (i) std::cout << '\n';
    std::cout << "Plugin " << p.name << ' ' << p.version << '\n'
              << "  Description   " << p.description << '\n'
              << "  Path          " << p.path << '\n'
              << "  SHA-256       " << p.sha256 << '\n'
              << "  Built with    xrec " << p.xrec_version << ", torch " << p.torch_version << ", "
              << p.compiler << ", " << p.cxx_abi << ", " << p.device << '\n'
              << "  Components    " << p.components.size() << '\n';
    for (const Component* c : shown[i].second) print_component(*c);
  }
  print_problems(l);
  return 0;
}

}  // namespace

int cmd_plugins(const std::vector<std::string>& argv_in) {
  if (argv_in.empty()) {
    std::cerr << kUsage;
    return 2;  // bad input, as main.cpp reports it
  }
  const std::string sub = argv_in[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::vector<std::string> argv(argv_in.begin() + 1, argv_in.end());
  std::vector<std::string> extra = take_plugin_paths("plugins " + sub, argv);
  if (sub == "list") return list(argv, extra);
  if (sub == "inspect") return inspect(argv, extra);
  throw InputError("unknown subcommand '" + sub + "'" + did_you_mean(sub, {"list", "inspect"}) + "\n" +
                   kUsage);
}

}  // namespace xrec::cli
