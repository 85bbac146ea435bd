// dtype.h: element types a tensor can hold, their sizes and names, and the dispatch helper that
// turns a run-time DType into a compile-time C++ type for kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/error.h"

namespace sepal {

enum class DType : uint8_t { Float32 = 0, Float64 = 1, Int64 = 2, UInt8 = 3, Bool = 4 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
    case DType::Bool: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

// Calls fn.template operator()<T>() with T the C++ type of `t`. `op` names the caller in errors.
template <typename Fn>
decltype(auto) dispatch_all(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Int64: return fn.template operator()<int64_t>();
    case DType::UInt8: return fn.template operator()<uint8_t>();
    case DType::Bool: return fn.template operator()<bool>();
  }
  throw DTypeError(std::string(op) + ": unknown dtype");
}

// Floating types only (float32, float64).
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    default: break;
  }
  throw DTypeError(std::string(op) + ": expected a floating dtype (float32 or float64), got " +
                   dtype_name(t));
}

// Arithmetic types (float32, float64, int64).
template <typename Fn>
decltype(auto) dispatch_arithmetic(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Int64: return fn.template operator()<int64_t>();
    default: break;
  }
  throw DTypeError(std::string(op) + ": expected float32, float64 or int64, got " +
                   dtype_name(t));
}

}  // namespace sepal
