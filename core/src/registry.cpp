#include "xrec/registry.hpp"

#include "xrec/api/errors.hpp"
#include "xrec/suggest.hpp"

namespace xrec {

void Component::check_makes(Kind wanted) const {
  if (kind != wanted)
    throw Error(std::string("kind mismatch: asked for a component of kind ") + to_string(wanted) + ", but " +
                to_string(kind) + " '" + name + "' is of kind " + to_string(kind));
  if (!has_factory())
    throw Error(std::string(to_string(kind)) + " '" + name + "' has no " + to_string(kind) + " factory");
}

namespace {
// "plugin 'sasrec' (/path/sasrec.so)", or "the host" for components added without a plugin (tests).
std::string origin(const Component& c) {
  if (c.plugin.empty()) return "the host";
  return "plugin '" + c.plugin + "' (" + c.path + ")";
}

}  // namespace

void Registry::add(Component c) {
  if (c.name.empty())
    throw Error(std::string("cannot register a ") + to_string(c.kind) + " with an empty name (from " +
                origin(c) + ")");
  if (!c.has_factory())
    throw Error(std::string(to_string(c.kind)) + " '" + c.name + "' from " + origin(c) + " has no " +
                to_string(c.kind) + " factory" +
                (c.factory ? std::string(" (its factory makes a ") + to_string(c.factory_kind) + ")" : ""));
  auto key = std::make_pair(c.kind, c.name);
  if (auto it = components_.find(key); it != components_.end())
    throw Error(std::string(to_string(c.kind)) + " '" + c.name + "' is registered twice: by " +
                origin(it->second) + " and by " + origin(c));
  components_.emplace(std::move(key), std::move(c));
}

const Component* Registry::find(Kind kind, const std::string& name) const {
  auto it = components_.find({kind, name});
  return it == components_.end() ? nullptr : &it->second;
}

const Component& Registry::get(Kind kind, const std::string& name) const {
  if (const Component* c = find(kind, name)) return *c;
  const std::vector<std::string> known = names(kind);
  const std::string hint = did_you_mean(name, known);
  std::string msg = std::string("unknown ") + to_string(kind) + " '" + name + "'" + hint;
  if (known.empty()) {
    msg += std::string("; no ") + to_string(kind) + " is registered (is its plugin in a plugin folder?)";
  } else {
    msg += hint.empty() ? "; known: " : " known: ";
    for (size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + known[i];
  }
  throw InputError(msg);
}

std::vector<const Component*> Registry::list() const {
  // The map is ordered by (kind, name): the enum order is the documented kind order.
  std::vector<const Component*> out;
  out.reserve(components_.size());
  for (auto& [key, c] : components_) out.push_back(&c);
  return out;
}

std::vector<std::string> Registry::names(Kind kind) const {
  std::vector<std::string> out;
  for (auto& [key, c] : components_)
    if (key.first == kind) out.push_back(key.second);
  return out;
}

}  // namespace xrec
