// max / average / global pooling: NEON kernels (pool/pool_neon.h) against pool_ref.h.
#include <vector>

#include "check.h"
#include "kernels/pool/pool_neon.h"
#include "kernels/pool/pool_ref.h"

using check::Report;
using check::Rng;

// n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, extra (ceil-mode overhang: one more output)
struct Shape {
  int n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, extra;
};

static int out_len(int i, int k, int s, int d, int p0, int p1) { return (i + p0 + p1 - d * (k - 1) - 1) / s + 1; }

static void pool_case(Report& rep, Rng& rng, const Shape& s, bool avg, int include_pad) {
  lne::PoolParams p{s.n, s.c, s.h, s.w, 0, 0, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl, s.pb, s.pr, include_pad};
  p.oh = out_len(s.h, s.kh, s.sh, s.dh, s.pt, s.pb) + s.extra;
  p.ow = out_len(s.w, s.kw, s.sw, s.dw, s.pl, s.pr) + s.extra;
  if (p.oh <= 0 || p.ow <= 0) return;
  auto x = rng.vec((size_t)p.n * p.c * p.h * p.w, -3.f, 2.f);
  const size_t ny = (size_t)p.n * p.c * p.oh * p.ow;
  std::vector<float> got(ny + 4, 123.f), want(ny);
  if (avg) {
    lne::avgpool2d_f32_neon(p, x.data(), got.data());
    lne::avgpool2d_f32_ref(p, x.data(), want.data());
  } else {
    lne::maxpool2d_f32_neon(p, x.data(), got.data());
    lne::maxpool2d_f32_ref(p, x.data(), want.data());
  }
  char what[160];
  std::snprintf(what, sizeof what, "%s %dx%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d +%d incl%d", avg ? "avgpool" : "maxpool",
                s.h, s.w, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl, s.pb, s.pr, s.extra, include_pad);
  rep.compare(what, got.data(), want.data(), ny, 1e-5f, 1e-6f);
  for (size_t i = ny; i < ny + 4; ++i)
    if (got[i] != 123.f) {
      std::printf("MISMATCH %s: wrote past the output\n", what);
      ++rep.failures;
      break;
    }
}

int main() {
  Report rep;
  Rng rng;
  const Shape shapes[] = {
      {1, 3, 8, 8, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},   {2, 2, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
      {1, 3, 13, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {1, 2, 7, 7, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1},
      {1, 2, 12, 25, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0}, {1, 1, 10, 19, 3, 2, 3, 3, 1, 1, 1, 0, 1, 1, 0},
      {1, 2, 15, 18, 3, 3, 2, 1, 2, 2, 2, 2, 2, 2, 0}, {1, 2, 6, 30, 1, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0},
      {1, 1, 4, 5, 4, 5, 1, 1, 1, 1, 0, 0, 0, 0, 0},   {1, 2, 5, 6, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 0},
      {1, 3, 11, 40, 2, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1}, {1, 1, 9, 9, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0},
  };
  for (const Shape& s : shapes) {
    pool_case(rep, rng, s, false, 0);
    if (s.dh == 1 && s.dw == 1) {  // AveragePool kernels apply to undilated windows only
      pool_case(rep, rng, s, true, 0);
      pool_case(rep, rng, s, true, 1);
    }
  }
  for (long long nc : {1, 3, 8})
    for (long long hw : {1, 3, 4, 7, 8, 49, 100}) {
      auto x = rng.vec((size_t)(nc * hw), -2.f, 1.f);
      std::vector<float> got(nc), want(nc);
      char what[64];
      lne::global_avgpool_f32_neon(nc, hw, x.data(), got.data());
      lne::global_avgpool_f32_ref(nc, hw, x.data(), want.data());
      std::snprintf(what, sizeof what, "global_avgpool nc=%lld hw=%lld", nc, hw);
      rep.compare(what, got.data(), want.data(), nc, 1e-5f, 1e-6f);
      lne::global_maxpool_f32_neon(nc, hw, x.data(), got.data());
      lne::global_maxpool_f32_ref(nc, hw, x.data(), want.data());
      std::snprintf(what, sizeof what, "global_maxpool nc=%lld hw=%lld", nc, hw);
      rep.compare(what, got.data(), want.data(), nc, 0.f, 0.f);
    }
  return rep.finish("pool");
}
