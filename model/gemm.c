/*
 * The matrix product every layer runs on: C += A B, row-major, with the
 * output columns innermost, so the compiler keeps a block of C in vector
 * registers and never has to reorder a sum.  Element (i, j) is always
 * c + a[i][0] b[0][j] + a[i][1] b[1][j] + ... in that order, which makes
 * a row's score independent of the block it is scored in and of the vector
 * width: the instances below (SSE2, which every x86-64 has; AVX2; AVX-512)
 * give the same bits, and the widest one the CPU runs is used.  Multiplies
 * are never fused into FMAs (-ffp-contract=off in model/local.mk), since
 * an FMA rounds once where the others round twice.
 *
 * Left to itself, gcc vectorised the loop over k instead of the columns,
 * with shuffles everywhere, and ran three times slower; hence the explicit
 * GNU C vectors and unroll pragmas, which also hold at the -O2 that the
 * user's CFLAGS put after ours.  Each instance keeps a block of GEMM_ROWS
 * rows by up to GEMM_W* vectors in registers: as many as its register file
 * holds (16 for SSE2 and AVX2, 32 for AVX-512), which on the 100 k-row
 * training benchmark beat the other shapes tried (AVX-512: 4 x 4 vectors,
 * 1.44 s, against 2 x 4, 1.84 s; AVX2: 4 x 2, 1.72 s, against 2 x 4,
 * 2.18 s, and 4 x 1, 1.95 s; SSE2: 2 x 4, 2.88 s, against 4 x 2, 3.00 s).
 */
#include <string.h>

#include "model/model-int.h"

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

#define VLEN(VT) (sizeof(VT) / sizeof(float))
#define GEMM_CAT2(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT2(a, b)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEMM_X86 1
#else
#define GEMM_X86 0
#endif

#define GEMM_NAME gemm_base
#define GEMM_TARGET
#define GEMM_WIDE 4
#define GEMM_ROWS 2
#define GEMM_W4 4
#include "model/gemm.h"

#if GEMM_X86
#define GEMM_NAME gemm_avx2
#define GEMM_TARGET __attribute__((target("avx2")))
#define GEMM_WIDE 8
#define GEMM_ROWS 4
#define GEMM_W8 2
#define GEMM_W4 2
#include "model/gemm.h"

#define GEMM_NAME gemm_avx512
#define GEMM_TARGET __attribute__((target("avx512f")))
#define GEMM_WIDE 16
#define GEMM_ROWS 4
#define GEMM_W16 4
#define GEMM_W8 4
#define GEMM_W4 4
#include "model/gemm.h"
#endif

/* The widest instance this CPU (and its kernel) runs. */
enum model_isa
model_isa_best(void)
{
#if GEMM_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return MODEL_ISA_AVX512;
	if (__builtin_cpu_supports("avx2"))
		return MODEL_ISA_AVX2;
#endif
	return MODEL_ISA_BASE;
}

/* C += A B, or A^T B when tn, with the given instance; see model-int.h. */
static void
gemm_isa(enum model_isa isa, size_t m, size_t n, size_t k, const float *a,
    size_t lda, const float *b, size_t ldb, float *c, size_t ldc, int tn)
{
	if (isa == MODEL_ISA_AUTO)
		isa = model_isa_best();
	switch (isa) {
#if GEMM_X86
	case MODEL_ISA_AVX512:
		(tn ? gemm_avx512_tn : gemm_avx512)(
		    m, n, k, a, lda, b, ldb, c, ldc);
		return;
	case MODEL_ISA_AVX2:
		(tn ? gemm_avx2_tn : gemm_avx2)(
		    m, n, k, a, lda, b, ldb, c, ldc);
		return;
#endif
	default:
		(tn ? gemm_base_tn : gemm_base)(
		    m, n, k, a, lda, b, ldb, c, ldc);
		return;
	}
}

void
model_gemm_isa(enum model_isa isa, size_t m, size_t n, size_t k, const float *a,
    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
	gemm_isa(isa, m, n, k, a, lda, b, ldb, c, ldc, 0);
}

void
model_gemm_tn_isa(enum model_isa isa, size_t m, size_t n, size_t k,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc)
{
	gemm_isa(isa, m, n, k, a, lda, b, ldb, c, ldc, 1);
}
