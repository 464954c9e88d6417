#pragma once
// What the host hands every component it creates: its own named logger, the run's seed and device,
// where data lives, and the run's artifact folder.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace xrec {

struct PluginContext {
  std::shared_ptr<spdlog::logger> log;  // named after the component; sinks owned by the host
  uint64_t seed = 0;
  std::string device = "cpu";           // "cpu" or "cuda:N"
  std::vector<std::string> data_roots;  // searched in order for relative dataset paths
  std::string run_dir;                  // this run's artifact folder ("" when not recording)
};

}  // namespace xrec
