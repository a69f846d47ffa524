// conv2d im2col and depthwise: NEON kernels (conv/*_neon.h) against conv2d_f32_ref.
#include <vector>

#include "check.h"
#include "kernels/conv/conv_depthwise_neon.h"
#include "kernels/conv/conv_im2col_neon.h"
#include "kernels/conv/conv_ref.h"

using check::Report;
using check::Rng;

struct Shape {
  int n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

static int out_len(int i, int k, int s, int d, int p0, int p1) { return (i + p0 + p1 - d * (k - 1) - 1) / s + 1; }

static void conv_case(Report& rep, Rng& rng, const Shape& s, const lne::Act& act, bool with_bias, bool depthwise) {
  lne::ConvParams p{};
  p.n = s.n, p.c = s.c, p.h = s.h, p.w = s.w, p.m = s.m;
  p.oh = out_len(s.h, s.kh, s.sh, s.dh, s.pt, s.pb), p.ow = out_len(s.w, s.kw, s.sw, s.dw, s.pl, s.pr);
  p.kh = s.kh, p.kw = s.kw, p.sh = s.sh, p.sw = s.sw, p.dh = s.dh, p.dw = s.dw, p.pt = s.pt, p.pl = s.pl;
  p.group = s.group, p.act = act;
  if (p.oh <= 0 || p.ow <= 0) return;
  auto x = rng.vec((size_t)p.n * p.c * p.h * p.w), w = rng.vec((size_t)p.m * (p.c / p.group) * p.kh * p.kw);
  auto b = rng.vec((size_t)p.m);
  const size_t ny = (size_t)p.n * p.m * p.oh * p.ow;
  std::vector<float> got(ny + 4, 123.f), want(ny);  // 4 guard floats after y must stay untouched
  const float* bp = with_bias ? b.data() : nullptr;
  if (depthwise) {
    lne::conv2d_f32_depthwise_neon(p, x.data(), w.data(), bp, got.data());
  } else {
    std::vector<float> scratch(lne::conv2d_f32_im2col_neon_scratch(p) + 1);
    lne::conv2d_f32_im2col_neon(p, x.data(), w.data(), bp, got.data(), scratch.data());
  }
  lne::conv2d_f32_ref(p, x.data(), w.data(), bp, want.data());
  char what[160];
  std::snprintf(what, sizeof what, "%s n%d c%d %dx%d m%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d g%d act%d bias%d",
                depthwise ? "depthwise" : "im2col", s.n, s.c, s.h, s.w, s.m, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt,
                s.pl, s.pb, s.pr, s.group, act.kind, (int)with_bias);
  rep.compare(what, got.data(), want.data(), ny, 1e-5f, 2e-5f);
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
  const auto acts = check::all_acts();
  // n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group
  const Shape dense[] = {
      {1, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   {2, 5, 7, 6, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 4, 8, 8, 13, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},   {1, 1, 10, 13, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
      {1, 2, 12, 9, 7, 5, 5, 1, 2, 2, 1, 2, 1, 0, 3, 1},   {1, 6, 9, 10, 4, 3, 3, 1, 1, 1, 1, 0, 1, 2, 0, 2},
      {1, 1, 20, 16, 8, 10, 4, 2, 2, 1, 1, 4, 1, 5, 2, 1}, {1, 3, 11, 17, 2, 1, 7, 1, 3, 1, 1, 0, 3, 0, 3, 1},
      {2, 8, 5, 5, 12, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 4},   {1, 9, 6, 7, 17, 3, 1, 1, 1, 3, 1, 3, 0, 3, 0, 1},
      {1, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 1},    {1, 7, 16, 15, 9, 3, 3, 2, 1, 1, 2, 1, 2, 1, 2, 1},
  };
  for (const Shape& s : dense)
    for (size_t a = 0; a < acts.size(); ++a) conv_case(rep, rng, s, acts[a], a % 3 != 2, false);
  const Shape dw[] = {
      {1, 5, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},     {2, 3, 12, 13, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3},
      {1, 4, 8, 9, 4, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 4},      {1, 6, 14, 17, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 6},
      {1, 3, 15, 22, 3, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 3},    {1, 2, 11, 19, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2},
      {1, 3, 9, 20, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3},     {1, 7, 5, 5, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 7},
      {1, 2, 6, 4, 2, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3, 2},      {1, 3, 10, 33, 3, 2, 7, 1, 2, 1, 1, 0, 3, 1, 3, 3},
      {1, 1, 4, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     {1, 2, 7, 3, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
  };
  for (const Shape& s : dw)
    for (size_t a = 0; a < acts.size(); ++a) conv_case(rep, rng, s, acts[a], a % 3 != 1, true);
  return rep.finish("conv");
}
