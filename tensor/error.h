// error.h: the exception types every sepal library function throws. Library code never exits;
// messages name the operation, the offending shapes, dtypes, devices or files, and a hint.
#pragma once
#include <stdexcept>
#include <string>

namespace sepal {

// Base class of every error sepal throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ShapeError : public Error { using Error::Error; };      // incompatible or invalid shapes
class DTypeError : public Error { using Error::Error; };      // unsupported or mismatched dtypes
class DeviceError : public Error { using Error::Error; };     // mismatched or unavailable devices
class IndexError : public Error { using Error::Error; };      // a dimension or index out of range
class AutogradError : public Error { using Error::Error; };   // misuse of the gradient engine
class CudaError : public Error { using Error::Error; };       // a failed CUDA, cuBLAS or cuDNN call
class IOError : public Error { using Error::Error; };         // unreadable or malformed files

}  // namespace sepal
