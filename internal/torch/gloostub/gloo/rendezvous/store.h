// Declaration-only stand-in (see ../../README.md): ProcessGroupGloo.hpp
// declares GlooStore, an adapter deriving from gloo's store interface, with
// these overrides. golamini never constructs one (libtorch does), so only the
// names and signatures matter here.
#pragma once
#include <chrono>
#include <string>
#include <vector>
namespace gloo {
namespace rendezvous {
class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
};
}  // namespace rendezvous
}  // namespace gloo
