// Measures one GEMM library's sgemm/dgemm, for choosing tensord's CPU GEMM (bench/gemm_choice.sh builds this once
// per library, with GEMM_OPENBLAS, GEMM_BLIS or GEMM_DNNL, and runs them side by side with PyTorch).
// Prints one line per case: library, case, threads, best seconds, GFLOP/s; and, with --peak, the machine's
// measured FMA peak (AVX-512 and AVX2) per thread, against which the GEMM numbers are judged.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(GEMM_OPENBLAS)
#include <cblas.h>
extern "C" char* openblas_get_corename();
#elif defined(GEMM_BLIS)
#include <blis.h>
#elif defined(GEMM_DNNL)
#include <cblas.h>  // dgemm still comes from OpenBLAS: oneDNN has only sgemm
#include <dnnl.h>
#endif

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best time of `rounds` rounds, each repeating fn for at least 0.2 s (noisy shared machine: the best is the
// least disturbed).
template <class F>
double best_time(F&& fn, int rounds = 3) {
  fn();
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    int n = 0;
    double start = now(), t;
    do {
      fn();
      ++n;
    } while ((t = now() - start) < 0.2);
    best = std::min(best, t / n);
  }
  return best;
}

const char* library_name() {
#if defined(GEMM_OPENBLAS)
  // openblas_get_parallel(): 1 for the pthread build, 2 for the OpenMP one.
  static std::string name = std::string(openblas_get_parallel() == 2 ? "openblas-omp(" : "openblas(") +
                            openblas_get_corename() + ")";
  return name.c_str();
#elif defined(GEMM_BLIS)
  static std::string name = std::string("blis(") + bli_arch_string(bli_arch_query_id()) + ")";
  return name.c_str();
#elif defined(GEMM_DNNL)
  return "onednn";
#endif
}

void set_threads(int t) {
  omp_set_num_threads(t);
#if defined(GEMM_OPENBLAS) || defined(GEMM_DNNL)
  openblas_set_num_threads(t);
#elif defined(GEMM_BLIS)
  bli_thread_set_num_threads(t);
#endif
}

// Row-major C = A @ B, A m x k, B k x n.
void sgemm(int m, int n, int k, const float* a, const float* b, float* c) {
#if defined(GEMM_OPENBLAS) || defined(GEMM_BLIS)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
#elif defined(GEMM_DNNL)
  dnnl_sgemm('N', 'N', m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
#endif
}

void dgemm(int m, int n, int k, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
}

template <class T>
std::vector<T> filled(size_t n) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = T((i * 2654435761u) % 1000003) / T(1000003);
  return v;
}

void report(const char* what, int threads, double secs, double flops) {
  std::printf("%-24s %-20s t=%d %12.6f s %8.1f GFLOP/s\n", library_name(), what, threads, secs, flops / secs * 1e-9);
  std::fflush(stdout);
}

template <class T>
void square(int n, int threads) {
  auto a = filled<T>(size_t(n) * n), b = filled<T>(size_t(n) * n), c = filled<T>(size_t(n) * n);
  double t = best_time([&] {
    if constexpr (std::is_same_v<T, float>) sgemm(n, n, n, a.data(), b.data(), c.data());
    else dgemm(n, n, n, a.data(), b.data(), c.data());
  });
  std::string what = std::string(sizeof(T) == 4 ? "sgemm " : "dgemm ") + std::to_string(n);
  report(what.c_str(), threads, t, 2.0 * n * n * n);
}

// `batch` independent n x n x n sgemms, one library call each (as cpu_gemm loops over a batch).
void batched(int batch, int n, int threads) {
  auto a = filled<float>(size_t(batch) * n * n), b = filled<float>(size_t(batch) * n * n);
  std::vector<float> c(size_t(batch) * n * n);
  double t = best_time([&] {
    for (int i = 0; i < batch; ++i) {
      size_t o = size_t(i) * n * n;
      sgemm(n, n, n, a.data() + o, b.data() + o, c.data() + o);
    }
  });
  std::string what = "bsgemm " + std::to_string(batch) + "x" + std::to_string(n);
  report(what.c_str(), threads, t, 2.0 * batch * n * n * n);
}

// Peak FMA throughput of one thread: 12 independent accumulator chains hide the FMA latency on two ports.
__attribute__((target("avx512f"))) double peak512() {
  __m512 acc[12];
  for (auto& x : acc) x = _mm512_set1_ps(1.0f);
  const __m512 m = _mm512_set1_ps(0.999999f), p = _mm512_set1_ps(1e-7f);
  const long iters = 20'000'000;
  double start = now();
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& x : acc) x = _mm512_fmadd_ps(x, m, p);
  }
  double t = now() - start;
  float sink = 0;
  for (auto& x : acc) sink += _mm512_reduce_add_ps(x);
  if (sink == 42.0f) std::puts("");
  return 2.0 * 16 * 12 * iters / t;
}

__attribute__((target("avx2,fma"))) double peak256() {
  __m256 acc[12];
  for (auto& x : acc) x = _mm256_set1_ps(1.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), p = _mm256_set1_ps(1e-7f);
  const long iters = 20'000'000;
  double start = now();
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& x : acc) x = _mm256_fmadd_ps(x, m, p);
  }
  double t = now() - start;
  alignas(32) float lanes[8];
  float sink = 0;
  for (auto& x : acc) {
    _mm256_store_ps(lanes, x);
    sink += lanes[0];
  }
  if (sink == 42.0f) std::puts("");
  return 2.0 * 8 * 12 * iters / t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--peak") == 0) {
    for (int r = 0; r < 3; ++r) {
      double p512 = 0, p256 = 0;
      for (int i = 0; i < 2; ++i) p512 = std::max(p512, peak512()), p256 = std::max(p256, peak256());
      std::printf("%-24s %-20s t=1 %8.1f GFLOP/s (avx512)  %8.1f GFLOP/s (avx2)\n", "peak", "fma loop", p512 * 1e-9,
                  p256 * 1e-9);
    }
    return 0;
  }
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (int n : {256, 1024, 2048}) square<float>(n, threads);
    for (int n : {256, 1024, 2048}) square<double>(n, threads);
    batched(256, 64, threads);
    batched(1024, 16, threads);
  }
  return 0;
}
