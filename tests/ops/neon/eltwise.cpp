// unary / binary / channel affine: NEON kernels (eltwise/eltwise_neon.h) against the _ref kernels.
#include <vector>

#include "check.h"
#include "kernels/eltwise/binary_ref.h"
#include "kernels/eltwise/channel_affine_ref.h"
#include "kernels/eltwise/eltwise_neon.h"
#include "kernels/eltwise/unary_ref.h"

using check::Report;
using check::Rng;

static void unary_case(Report& rep, const std::vector<float>& x, const lne::Act& act, bool inplace) {
  std::vector<float> got = x, want(x.size());
  lne::unary_f32_neon(act, (int64_t)x.size(), inplace ? got.data() : x.data(), got.data());
  lne::unary_f32_ref(act, (int64_t)x.size(), x.data(), want.data());
  char what[64];
  std::snprintf(what, sizeof what, "unary n=%zu act=%d inplace=%d", x.size(), act.kind, (int)inplace);
  rep.compare(what, got.data(), want.data(), x.size(), 1e-5f, 1e-6f);
}

// Contiguous strides of `shape` read as `out` (0 where shape is 1), as lne/kernels/eltwise.py.
static void strides_of(int rank, const int64_t* shape, int64_t* st) {
  int64_t step = 1;
  for (int d = rank - 1; d >= 0; --d) {
    st[d] = shape[d] != 1 ? step : 0;
    step *= shape[d];
  }
}

static void binary_case(Report& rep, Rng& rng, int kind, int rank, const int64_t* out, const int64_t* as,
                        const int64_t* bs, const lne::Act& act, bool inplace) {
  lne::BinaryParams p{};
  p.kind = kind, p.rank = rank, p.act = act;
  int64_t n = 1, na = 1, nb = 1;
  for (int d = 0; d < rank; ++d) p.out_shape[d] = out[d], n *= out[d], na *= as[d], nb *= bs[d];
  strides_of(rank, as, p.a_strides);
  strides_of(rank, bs, p.b_strides);
  auto a = rng.vec((size_t)na, -2.f, 2.f), b = rng.vec((size_t)nb, 0.5f, 2.f);
  for (size_t i = 0; i < b.size(); i += 2) b[i] = -b[i];  // both signs, never near zero (Div)
  std::vector<float> got(n), want(n);
  if (inplace) {  // y aliases a (same shape as the output)
    got = a;
    lne::binary_f32_neon(p, got.data(), b.data(), got.data());
  } else {
    lne::binary_f32_neon(p, a.data(), b.data(), got.data());
  }
  lne::binary_f32_ref(p, a.data(), b.data(), want.data());
  char what[96];
  std::snprintf(what, sizeof what, "binary kind=%d rank=%d case a%lldb%lld act=%d inplace=%d", kind, rank,
                (long long)na, (long long)nb, act.kind, (int)inplace);
  rep.compare(what, got.data(), want.data(), (size_t)n, 1e-5f, 1e-6f);
}

int main() {
  Report rep;
  Rng rng;
  const auto acts = check::all_acts();
  std::vector<float> special = {0.f, -0.f, 1e-8f, -1e-8f, 0.3f, 0.624f, 0.626f, -0.626f, 1.f, -1.f, 5.f, -5.f,
                                20.f, -20.f, 88.f, -88.f, 100.f, -100.f, 1e30f, -1e30f, 3.f, -3.f, 2.5f};
  for (const lne::Act& act : acts) {
    for (int n : {0, 1, 3, 4, 5, 8, 9, 17, 1000}) unary_case(rep, rng.vec((size_t)n, -8.f, 8.f), act, n % 2 == 1);
    unary_case(rep, special, act, false);
  }
  // out, a, b shapes (rank 4, then rank 1 / 2 / 6)
  const int64_t s4[][3][4] = {
      {{2, 3, 5, 7}, {2, 3, 5, 7}, {2, 3, 5, 7}},  // full
      {{2, 3, 5, 7}, {2, 3, 5, 7}, {1, 3, 1, 1}},  // per channel b
      {{2, 3, 5, 7}, {1, 3, 1, 1}, {2, 3, 5, 7}},  // per channel a
      {{2, 3, 5, 7}, {2, 3, 5, 7}, {1, 1, 1, 1}},  // scalar b
      {{2, 3, 5, 7}, {1, 1, 1, 1}, {2, 3, 5, 7}},  // scalar a
      {{2, 3, 5, 7}, {2, 3, 5, 7}, {1, 1, 1, 7}},  // row b
      {{2, 3, 5, 7}, {2, 1, 5, 1}, {1, 3, 1, 7}},  // both broadcast
      {{1, 4, 3, 1}, {1, 4, 3, 1}, {1, 4, 1, 1}},  // size-1 dims dropped
  };
  int ai = 0;
  for (int kind = lne::BIN_ADD; kind <= lne::BIN_MIN; ++kind) {
    for (const auto& s : s4) {
      const lne::Act& act = acts[ai++ % acts.size()];
      binary_case(rep, rng, kind, 4, s[0], s[1], s[2], act, false);
      bool a_full = true;
      for (int d = 0; d < 4; ++d) a_full = a_full && s[1][d] == s[0][d];
      if (a_full) binary_case(rep, rng, kind, 4, s[0], s[1], s[2], act, true);
    }
    const int64_t one[1] = {1}, n13[1] = {13};
    binary_case(rep, rng, kind, 1, one, one, one, acts[ai++ % acts.size()], false);
    binary_case(rep, rng, kind, 1, n13, n13, one, acts[ai++ % acts.size()], false);
    const int64_t o2[2] = {9, 11}, t2[2] = {9, 1};
    binary_case(rep, rng, kind, 2, o2, t2, o2, acts[ai++ % acts.size()], false);
    const int64_t o6[6] = {2, 1, 3, 2, 2, 5}, b6[6] = {1, 1, 3, 1, 2, 1};
    binary_case(rep, rng, kind, 6, o6, o6, b6, acts[ai++ % acts.size()], false);
  }
  for (int n : {1, 2})
    for (int c : {1, 3, 5})
      for (int inner : {1, 3, 4, 9, 50}) {
        const lne::Act& act = acts[ai++ % acts.size()];
        auto x = rng.vec((size_t)n * c * inner, -3.f, 3.f), sc = rng.vec((size_t)c), bi = rng.vec((size_t)c);
        std::vector<float> got = x, want(x.size());
        const bool inplace = inner % 2 == 1;
        lne::channel_affine_f32_neon(n, c, inner, inplace ? got.data() : x.data(), sc.data(), bi.data(), act,
                                     got.data());
        lne::channel_affine_f32_ref(n, c, inner, x.data(), sc.data(), bi.data(), act, want.data());
        char what[96];
        std::snprintf(what, sizeof what, "channel_affine n=%d c=%d inner=%d act=%d inplace=%d", n, c, inner, act.kind,
                      (int)inplace);
        rep.compare(what, got.data(), want.data(), got.size(), 1e-5f, 1e-6f);
      }
  return rep.finish("eltwise");
}
