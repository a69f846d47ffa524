// Helpers shared by the pybind11 bindings of the runtime kernels (lne._kernels).
//
// Conventions of every binding:
//  * arguments mirror the C++ kernel signature in order; a params struct is a Python dict keyed
//    by the struct's field names (some fields have defaults, see each docstring); an Act is None,
//    an int kind, a (kind, alpha, beta) tuple/list, or a dict {kind, alpha, beta};
//  * tensors are numpy float32 C-contiguous arrays (any shape; only the element count matters);
//    outputs are preallocated arrays that the kernel writes in place;
//  * sizes are checked against the params and a ValueError is raised instead of crashing.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lne/common.h"

namespace py = pybind11;

namespace lne_bind {

[[noreturn]] inline void fail(const std::string& msg) { throw py::value_error(msg); }

inline py::array as_f32_array(const py::handle& o, const char* name) {
  if (!py::isinstance<py::array>(o)) fail(std::string(name) + ": expected a numpy float32 array");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!a.dtype().is(py::dtype::of<float>()))
    fail(std::string(name) + ": dtype must be float32, got " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + ": array must be C-contiguous");
  return a;
}

// Input array with at least `need` elements (exactly `need` when exact).
inline const float* in_ptr(const py::handle& o, int64_t need, const char* name, bool exact = true,
                           int64_t* size_out = nullptr) {
  py::array a = as_f32_array(o, name);
  const int64_t sz = (int64_t)a.size();
  if (exact ? sz != need : sz < need)
    fail(std::string(name) + ": expected " + (exact ? "" : "at least ") + std::to_string(need) +
         " elements, got " + std::to_string(sz));
  if (size_out) *size_out = sz;
  return static_cast<const float*>(a.data());
}

inline const float* in_ptr_opt(const py::handle& o, int64_t need, const char* name) {
  if (o.is_none()) return nullptr;
  return in_ptr(o, need, name);
}

inline float* out_ptr(const py::handle& o, int64_t need, const char* name, bool exact = true) {
  py::array a = as_f32_array(o, name);
  if (!a.writeable()) fail(std::string(name) + ": array is read-only");
  const int64_t sz = (int64_t)a.size();
  if (exact ? sz != need : sz < need)
    fail(std::string(name) + ": expected " + (exact ? "" : "at least ") + std::to_string(need) +
         " elements, got " + std::to_string(sz));
  return static_cast<float*>(a.mutable_data());
}

// Byte-range overlap of [a, a+na) and [b, b+nb) (element counts).
inline bool overlaps(const float* a, int64_t na, const float* b, int64_t nb) {
  if (!a || !b || na <= 0 || nb <= 0) return false;
  return a < b + nb && b < a + na;
}
inline void check_disjoint(const float* a, int64_t na, const float* b, int64_t nb,
                           const char* what) {
  if (overlaps(a, na, b, nb)) fail(std::string(what) + " must not overlap");
}
// Either the very same buffer (in-place) or disjoint.
inline void check_same_or_disjoint(const float* a, int64_t na, const float* b, int64_t nb,
                                   const char* what) {
  if (a == b && na == nb) return;
  if (overlaps(a, na, b, nb)) fail(std::string(what) + " must be the same buffer or disjoint");
}

inline py::object get(const py::dict& d, const char* key) {
  if (!d.contains(key)) fail(std::string("params: missing key '") + key + "'");
  return d[key];
}

// Typed dict lookups: a wrong type raises ValueError naming the key.
template <class T>
inline T cast_key(const py::handle& o, const char* key) {
  try {
    return py::cast<T>(o);
  } catch (const py::cast_error&) {
    fail(std::string("params: '") + key + "' has the wrong type");
  }
}
inline int64_t get_i64(const py::dict& d, const char* key) {
  return cast_key<int64_t>(get(d, key), key);
}
inline int64_t get_i64(const py::dict& d, const char* key, int64_t def) {
  return d.contains(key) ? cast_key<int64_t>(d[key], key) : def;
}
inline int32_t to_i32(int64_t v, const char* key) {
  if (v < INT32_MIN || v > INT32_MAX) fail(std::string("params: '") + key + "' out of int32 range");
  return (int32_t)v;
}
inline int32_t get_i32(const py::dict& d, const char* key) { return to_i32(get_i64(d, key), key); }
inline int32_t get_i32(const py::dict& d, const char* key, int32_t def) {
  return to_i32(get_i64(d, key, def), key);
}
inline float get_f32(const py::dict& d, const char* key, float def) {
  return d.contains(key) ? cast_key<float>(d[key], key) : def;
}
inline std::vector<int64_t> get_vec(const py::dict& d, const char* key) {
  return cast_key<std::vector<int64_t>>(get(d, key), key);
}

inline void check_pos(int64_t v, const char* name) {
  if (v < 1) fail(std::string(name) + " must be >= 1");
}
inline void check_nonneg(int64_t v, const char* name) {
  if (v < 0) fail(std::string(name) + " must be >= 0");
}

// Element count product with overflow guard.
inline int64_t prod(std::initializer_list<int64_t> xs) {
  int64_t p = 1;
  for (int64_t x : xs) {
    if (x < 0) fail("negative size");
    if (x != 0 && p > INT64_C(0x3fffffffffffffff) / x) fail("size overflow");
    p *= x;
  }
  return p;
}

inline lne::Act parse_act(const py::handle& o) {
  lne::Act a{lne::ACT_NONE, 0.f, 0.f};
  if (o.is_none()) return a;
  if (py::isinstance<py::dict>(o)) {
    py::dict d = py::reinterpret_borrow<py::dict>(o);
    a.kind = get_i32(d, "kind");
    a.alpha = get_f32(d, "alpha", 0.f);
    a.beta = get_f32(d, "beta", 0.f);
  } else if (py::isinstance<py::tuple>(o) || py::isinstance<py::list>(o)) {
    py::sequence s = py::reinterpret_borrow<py::sequence>(o);
    if (s.size() < 1 || s.size() > 3) fail("act: expected (kind[, alpha[, beta]])");
    a.kind = cast_key<int32_t>(s[0], "act.kind");
    if (s.size() > 1) a.alpha = cast_key<float>(s[1], "act.alpha");
    if (s.size() > 2) a.beta = cast_key<float>(s[2], "act.beta");
  } else {
    a.kind = cast_key<int32_t>(o, "act");
  }
  if (a.kind < lne::ACT_NONE || a.kind > lne::ACT_HARD_SWISH)
    fail("act: unknown kind " + std::to_string(a.kind));
  return a;
}

inline lne::Act dict_act(const py::dict& d) {
  return d.contains("act") ? parse_act(d["act"]) : parse_act(py::none());
}

}  // namespace lne_bind

// Per-family registration functions (one src/bind_<family>.cpp each).
void init_gemm(py::module_& m);
void init_conv(py::module_& m);
void init_pool(py::module_& m);
void init_eltwise(py::module_& m);
void init_tensor(py::module_& m);
void init_softmax(py::module_& m);
void init_lrn(py::module_& m);
