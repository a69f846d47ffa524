// Test app for a bundle compiled with the name "net": exercises the C API the way an
// embedded app would, for the sanitizer, allocation and threading tests.
//   safety WEIGHTS INPUTS OUTPUTS [THREADS [RUNS_PER_THREAD]]
// INPUTS / OUTPUTS: the raw float32 data of every input / output, one after the other.
// It checks (exit 1 with a message on the first failure):
//   * init refuses bad arguments with the documented status (never crashes);
//   * run() is deterministic on one context, and performs no heap allocation (counted);
//   * THREADS contexts sharing one weights blob, each with its own arena, run concurrently
//     in threads and give bit-identical outputs.
// Buffers are allocated at their exact sizes so that AddressSanitizer sees any overflow.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "net.h"

// Allocation counting around run(): under AddressSanitizer through its malloc hook (every
// malloc, new, aligned_alloc... of the process), otherwise by replacing glibc's malloc family
// with counting wrappers around glibc's own (operator new goes through malloc).
static std::atomic<bool> counting{false};
static std::atomic<long> allocations{0};
static inline void count() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void*, size_t),
                                                         void (*)(const volatile void*));  // libasan
static void on_malloc(const volatile void*, size_t) { count(); }
static void on_free(const volatile void*) {}
static const bool hooked = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
#else
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* malloc(size_t n) { count(); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { count(); return __libc_realloc(p, n); }
void* memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void* aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void** p, size_t a, size_t n) {
  count();
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12;
}
}
static const bool hooked = true;
#endif

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "FAIL: %s\n", msg.c_str());
  return 1;
}

struct Buffer {  // 64-byte aligned, exactly `size` bytes usable (size is a multiple of 64)
  unsigned char* data;
  explicit Buffer(size_t size) {
    data = static_cast<unsigned char*>(::operator new(size ? size : 64, std::align_val_t(64)));
  }
  ~Buffer() { ::operator delete(data, std::align_val_t(64)); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

bool read_exact(const char* path, void* dst, size_t size) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  bool ok = std::fread(dst, 1, size, f) == size && std::fgetc(f) == EOF;
  std::fclose(f);
  return ok;
}

const size_t kIn[] = {NET_INPUT_0_SIZE,
#if NET_NUM_INPUTS > 1
                      NET_INPUT_1_SIZE,
#endif
};
const size_t kOut[] = {NET_OUTPUT_0_SIZE,
#if NET_NUM_OUTPUTS > 1
                       NET_OUTPUT_1_SIZE,
#endif
};
static_assert(NET_NUM_INPUTS <= 2 && NET_NUM_OUTPUTS <= 2, "the harness handles up to 2 inputs and outputs");
static_assert(NET_ARENA_SIZE % 64 == 0, "arena sizes are multiples of the alignment");

struct Io {  // one context's output storage and pointer tables
  std::vector<std::vector<float>> out;
  std::vector<float*> out_ptr;
  Io() {
    for (size_t n : kOut) out.emplace_back(n);
    for (auto& o : out) out_ptr.push_back(o.data());
  }
  bool same(const Io& other) const {
    for (size_t i = 0; i < out.size(); ++i)
      if (std::memcmp(out[i].data(), other.out[i].data(), out[i].size() * sizeof(float)) != 0) return false;
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: safety WEIGHTS INPUTS OUTPUTS [THREADS [RUNS_PER_THREAD]]");
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const int runs = argc > 5 ? std::atoi(argv[5]) : 1;  // per thread
  Buffer weights(NET_WEIGHTS_SIZE + (64 - NET_WEIGHTS_SIZE % 64) % 64);
  if (!read_exact(argv[1], weights.data, NET_WEIGHTS_SIZE)) return fail("cannot read the weights");
  size_t in_total = 0;
  for (size_t n : kIn) in_total += n;
  std::vector<float> in_data(in_total);
  if (!read_exact(argv[2], in_data.data(), in_total * sizeof(float))) return fail("cannot read the inputs");
  std::vector<std::vector<float>> in;  // each input in its own exact-size allocation
  std::vector<const float*> in_ptr;
  for (size_t i = 0, off = 0; i < NET_NUM_INPUTS; off += kIn[i], ++i)
    in.emplace_back(in_data.begin() + off, in_data.begin() + off + kIn[i]);
  for (auto& x : in) in_ptr.push_back(x.data());

  // init refuses what it must, with the documented status
  net_context ctx{};
  Buffer arena(NET_ARENA_SIZE);
  if (net_run(&ctx, in_ptr.data(), nullptr) != LNE_ERR_NOT_INITIALIZED) return fail("run on a context never initialised");
  if (NET_ARENA_SIZE >= 64 &&
      net_init(&ctx, weights.data, NET_WEIGHTS_SIZE, arena.data, NET_ARENA_SIZE - 64) != LNE_ERR_ARENA_TOO_SMALL)
    return fail("init accepted a small arena");
  if (net_init(&ctx, weights.data + 1, NET_WEIGHTS_SIZE, arena.data, NET_ARENA_SIZE) != LNE_ERR_ALIGNMENT)
    return fail("init accepted misaligned weights");
  if (net_init(&ctx, weights.data, NET_WEIGHTS_SIZE - 1, arena.data, NET_ARENA_SIZE) != LNE_ERR_WEIGHTS_SIZE)
    return fail("init accepted a short weights blob");
  if (net_run(&ctx, in_ptr.data(), nullptr) != LNE_ERR_NOT_INITIALIZED) return fail("run after a failed init");
  if (net_init(&ctx, weights.data, NET_WEIGHTS_SIZE, arena.data, NET_ARENA_SIZE) != LNE_OK) return fail("init");

  Io first, again;
  if (net_run(&ctx, in_ptr.data(), first.out_ptr.data()) != LNE_OK) return fail("run");
  if (net_run(&ctx, in_ptr.data(), nullptr) != LNE_ERR_NULL_ARGUMENT) return fail("run accepted NULL outputs");

  counting = true;
  void* volatile probe = std::malloc(16);  // the hook is live: this one must be counted
  counting = false;
  std::free(probe);
  if (!hooked || allocations.load() != 1) return fail("the malloc hook does not see allocations");
  allocations = 0;
  counting = true;
  int rc = LNE_OK;
  for (int i = 0; i < 2 && rc == LNE_OK; ++i) rc = net_run(&ctx, in_ptr.data(), again.out_ptr.data());
  counting = false;
  if (allocations.load() != 0)
    return fail("run() allocated on the heap " + std::to_string(allocations.load()) + " times in 2 runs");
  if (rc != LNE_OK) return fail("run (repeated)");
  if (!first.same(again)) return fail("two runs of one context differ");

  // contexts in parallel threads: one weights blob, one arena each
  std::vector<Io> results(threads);
  std::vector<int> status(threads, -1);
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        Buffer own(NET_ARENA_SIZE);
        net_context c{};
        int s = net_init(&c, weights.data, NET_WEIGHTS_SIZE, own.data, NET_ARENA_SIZE);
        for (int r = 0; r < runs && s == LNE_OK; ++r) s = net_run(&c, in_ptr.data(), results[t].out_ptr.data());
        net_deinit(&c);
        status[t] = s;
      });
    for (auto& th : pool) th.join();
  }
  for (int t = 0; t < threads; ++t) {
    if (status[t] != LNE_OK) return fail("run in thread " + std::to_string(t) + ": " + net_strerror(status[t]));
    if (!results[t].same(first)) return fail("thread " + std::to_string(t) + " differs from the single context");
  }
  net_deinit(&ctx);
  if (net_run(&ctx, in_ptr.data(), first.out_ptr.data()) != LNE_ERR_NOT_INITIALIZED)
    return fail("run after deinit");

  FILE* f = std::fopen(argv[3], "wb");
  if (!f) return fail("cannot write the outputs");
  for (auto& o : first.out) std::fwrite(o.data(), sizeof(float), o.size(), f);
  std::fclose(f);
  std::printf("ok: run() allocation-free (counted), %d threads identical\n", threads);
  return 0;
}
