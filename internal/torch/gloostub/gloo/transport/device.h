// Declaration-only stand-in (see ../../README.md): c10d's ProcessGroupGloo.hpp
// holds devices and buffers through smart pointers only.
#pragma once
namespace gloo {
namespace transport {
class Device;
class UnboundBuffer;
}  // namespace transport
}  // namespace gloo
