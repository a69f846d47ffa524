// LNE runtime: 2-D convolution parameters shared by every conv kernel variant.
#pragma once
#include "lne/common.h"

namespace lne {

// x [n,c,h,w], w [m, c/group, kh, kw], bias [m] or nullptr, y [n,m,oh,ow] (NCHW, fp32).
// Input row for output row oy and kernel row ky: iy = oy*sh - pt + ky*dh; rows outside [0,h) read
// as zero (padding). Same for columns. Bottom/right padding is implied by oh/ow.
struct ConvParams {
  int32_t n, c, h, w;
  int32_t m, oh, ow;
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pt, pl;
  int32_t group;
  Act act;
};

}  // namespace lne
