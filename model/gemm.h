/*
 * One instance of the gemm kernels, included by gemm.c once per
 * instruction set with these macros set:
 *
 *	GEMM_NAME	C += A B; GEMM_NAME_tn does C += A^T B
 *	GEMM_TARGET	their target attribute (empty for the build's own)
 *	GEMM_WIDE	the widest vector in floats: 4, 8 or 16
 *	GEMM_ROWS	rows of C kept in registers at once: 2 or 4
 *	GEMM_W16, GEMM_W8, GEMM_W4
 *			vectors of 16, 8 and 4 floats per row at once (up
 *			to 4; only those up to GEMM_WIDE are used)
 *
 * It undefines them all at its end.
 * Each lane of every vector does the scalar multiply-then-add sequence the
 * plain loop would, in the order p = 0, 1, ..., k - 1, so every instance
 * gives the same bits: wider vectors only do more columns at once.
 */
#ifndef GEMM_NAME
#error "gemm.h is a template for gemm.c"
#endif

#define GEMM_ROWS_FN GEMM_CAT(GEMM_NAME, _rows)

/*
 * Rows a[0..nr) by w vectors of type VT, from column 0 of b and c[0..nr);
 * nr and w are constants once inlined, so this is straight vector code.
 */
#define GEMM_KERNEL(VT, a, as, b, ldb, c, k, nr, w)                            \
	do {                                                                   \
		VT s_[4][4], bv_;                                              \
		size_t p_, q_, r_;                                             \
		_Pragma("GCC unroll 4") for (r_ = 0; r_ < (nr); r_++) _Pragma( \
		    "GCC unroll 4") for (q_ = 0; q_ < (w); q_++)               \
		    memcpy(&s_[r_][q_], (c)[r_] + q_ * VLEN(VT), sizeof(VT));  \
		for (p_ = 0; p_ < (k); p_++) {                                 \
			_Pragma("GCC unroll 4") for (q_ = 0; q_ < (w); q_++)   \
			{                                                      \
				memcpy(&bv_, (b) + p_ * (ldb) + q_ * VLEN(VT), \
				    sizeof(VT));                               \
				_Pragma("GCC unroll 4") for (r_ = 0;           \
							     r_ < (nr); r_++)  \
				    s_[r_][q_] += (a)[r_][p_ * (as)] * bv_;    \
			}                                                      \
		}                                                              \
		_Pragma("GCC unroll 4") for (r_ = 0; r_ < (nr); r_++) _Pragma( \
		    "GCC unroll 4") for (q_ = 0; q_ < (w); q_++)               \
		    memcpy((c)[r_] + q_ * VLEN(VT), &s_[r_][q_], sizeof(VT));  \
	} while (0)

/* All n columns of rows a[0..nr) into c[0..nr). */
static inline __attribute__((always_inline)) GEMM_TARGET void
GEMM_ROWS_FN(size_t n, size_t k, const float *const *a, size_t as,
    const float *b, size_t ldb, float *const *c, const size_t nr)
{
	const float *bj;
	float *cj[4], s;
	size_t j = 0, p, r;

#define GEMM_COLS(VT, w)                                                       \
	for (; j + (w)*VLEN(VT) <= n; j += (w)*VLEN(VT)) {                     \
		bj = b + j;                                                    \
		for (r = 0; r < nr; r++)                                       \
			cj[r] = c[r] + j;                                      \
		GEMM_KERNEL(VT, a, as, bj, ldb, cj, k, nr, w);                 \
	}
#if GEMM_WIDE >= 16
	GEMM_COLS(v16f, GEMM_W16)
	GEMM_COLS(v16f, 2)
	GEMM_COLS(v16f, 1)
#endif
#if GEMM_WIDE >= 8
	GEMM_COLS(v8f, GEMM_W8)
	GEMM_COLS(v8f, 2)
	GEMM_COLS(v8f, 1)
#endif
	GEMM_COLS(v4f, GEMM_W4)
	GEMM_COLS(v4f, 2)
	GEMM_COLS(v4f, 1)
#undef GEMM_COLS
	for (; j < n; j++) {
		for (r = 0; r < nr; r++) {
			s = c[r][j];
			for (p = 0; p < k; p++)
				s += a[r][p * as] * b[p * ldb + j];
			c[r][j] = s;
		}
	}
}

/*
 * C += A B, or with tn C += A^T B for A stored k x m: row i of A^T is
 * column i of A, read with a stride of lda.
 */
static inline __attribute__((always_inline)) GEMM_TARGET void
GEMM_CAT(GEMM_NAME, _any)(size_t m, size_t n, size_t k, const float *a,
    size_t lda, const float *b, size_t ldb, float *c, size_t ldc, const int tn)
{
	const float *ar[4];
	float *cr[4];
	size_t i, r, as = tn ? lda : 1, ar_step = tn ? 1 : lda;

	for (i = 0; i + GEMM_ROWS <= m; i += GEMM_ROWS) {
		for (r = 0; r < GEMM_ROWS; r++) {
			ar[r] = a + (i + r) * ar_step;
			cr[r] = c + (i + r) * ldc;
		}
		GEMM_ROWS_FN(n, k, ar, as, b, ldb, cr, GEMM_ROWS);
	}
	for (; i < m; i++) {
		ar[0] = a + i * ar_step;
		cr[0] = c + i * ldc;
		GEMM_ROWS_FN(n, k, ar, as, b, ldb, cr, 1);
	}
}

static GEMM_TARGET void
GEMM_NAME(size_t m, size_t n, size_t k, const float *a, size_t lda,
    const float *b, size_t ldb, float *c, size_t ldc)
{
	GEMM_CAT(GEMM_NAME, _any)(m, n, k, a, lda, b, ldb, c, ldc, 0);
}

static GEMM_TARGET void
GEMM_CAT(GEMM_NAME, _tn)(size_t m, size_t n, size_t k, const float *a,
    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
	GEMM_CAT(GEMM_NAME, _any)(m, n, k, a, lda, b, ldb, c, ldc, 1);
}

#undef GEMM_KERNEL
#undef GEMM_ROWS_FN
/* Ready for the next instance. */
#undef GEMM_NAME
#undef GEMM_TARGET
#undef GEMM_WIDE
#undef GEMM_ROWS
#undef GEMM_W16
#undef GEMM_W8
#undef GEMM_W4
