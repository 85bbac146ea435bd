// profiling_backend.h: the timing wrapper around a device backend that backend_for() returns while
// a profile::Session records on the calling thread (tensor/profiler.h).
#pragma once
#include "tensor/backend.h"

namespace sepal::profile {

// A backend that forwards every call to `device`, timing it into the recording session.
Backend& profiling_backend(Backend& device);

}  // namespace sepal::profile
