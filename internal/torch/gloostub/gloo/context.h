// Declaration-only stand-in (see ../README.md): c10d's ProcessGroupGloo.hpp
// holds gloo contexts through shared_ptr only.
#pragma once
namespace gloo {
class Context;
}
