// torchprof.cpp: see torchprof.h. Bench-only code.
#include "torchprof.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstring>
#include <exception>
#include <string>

namespace {
torch::autograd::profiler::RecordProfile *g_prof = nullptr;
char *copy_error(const char *what) {
  std::string s(what);
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return strdup(s.c_str());
}
}  // namespace

extern "C" {

char *bench_prof_start(const char *path) {
  try {
    if (g_prof != nullptr) return strdup("profiler already running");
    g_prof = new torch::autograd::profiler::RecordProfile(std::string(path));
    return nullptr;
  } catch (const std::exception &e) {
    return copy_error(e.what());
  }
}

char *bench_prof_stop(void) {
  try {
    delete g_prof;  // writes the trace
    g_prof = nullptr;
    return nullptr;
  } catch (const std::exception &e) {
    return copy_error(e.what());
  }
}

}  // extern "C"
