/* Dense net, llm.c style: see nn.h. */
#include "core/nn.h"
#include "core/util.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* The binned layer's loops and Adam come in three builds of the same
 * arithmetic (so the same results): plain C, the reference; vectors of 8
 * floats through the GCC vector extension (gcc and clang; SSE for Adam's
 * square roots) for the baseline instruction set (SSE2 on x86-64, where a
 * vector takes two registers); and the same compiled for AVX2, run where
 * the CPU has it. A vector kernel holds its sums in registers: gcc keeps a
 * plain C array of them in memory, which ran at 60% of the speed
 * (forward, 1,024 rows). No FMA: the builds round alike, and FMA gained
 * nothing (the loads bound the forward, and a training step no faster). */
#if defined(__GNUC__)
#define HAVE_VEC 1
typedef float vec __attribute__((vector_size(32)));
/* The same at any float's address, aliasing floats: loads and stores. */
typedef float vecu __attribute__((vector_size(32), aligned(4), may_alias));
#define VAT(p) (*(vecu *)(p))
#define VAT_C(p) (*(const vecu *)(p))
#define VL 8			/* floats per vector */
#define NV_MAX 8		/* vectors a kernel holds */
#define KERNEL static inline __attribute__((always_inline))
#if defined(__x86_64__)
#define HAVE_AVX2 1
#define TARGET_AVX2 __attribute__((target("avx2")))
#endif
#endif

static enum nn_kernel kernel_now(void);

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

struct nn {
	int n_in;
	int bins;			/* of the first layer (1: plain) */
	int n_layers;			/* hidden layers + output */
	int in[NN_MAX_HIDDEN + 1];	/* C of layer l */
	int out[NN_MAX_HIDDEN + 1];	/* OC of layer l */
	size_t offset[NN_MAX_HIDDEN + 1];	/* W_l in params */
	size_t n_params;
	int max_batch;
	int t;				/* Adam steps taken */

	/* One allocation: params, grads, m, v, each n_params floats. */
	float *mem;
	float *params, *grads, *m, *v;

	/* Activations, one allocation that the members of an ensemble share
	 * (nn_new_sharing): act[l] (B, O_l) is the output of layer l after
	 * its ReLU (the logits for the last layer); dact[l] the gradient with
	 * respect to it; dpre[l] the gradient before the ReLU. */
	float *work;
	float *act[NN_MAX_HIDDEN + 1];
	float *dact[NN_MAX_HIDDEN + 1];
	float *dpre[NN_MAX_HIDDEN + 1];
	float *prob;			/* (B) */

	/* Binned first layer (bins > 1): the table of W_0 read by input, its
	 * own: the bias (ocp), then rows (n_in, T+1, 2, ocp), row (j, t)
	 * holding the prefix P[j][t] = Σ_{t' < t} W_0[·][j·T + t'] and the
	 * slope S[j][t] = W_0[·][j·T + t] (S[j][T] = 0), each padded with
	 * zeros to ocp = OC rounded up to 8, then TAB_SLACK zeros. Built from
	 * the parameters by the first forward after they change (btab_ok). */
	void *btab_mem;
	float *btab;
	int bocp;
	bool btab_ok;
	/* Its scratch, one allocation shared as the activations are: bins t0
	 * (0 ≤ t0 ≤ T) and the fills f of those bins, of a block of rows
	 * (block_rows(n_in), n_in) in the forward, of one input's column (B)
	 * in backward; backward's column of inputs (B), its rows in bin order
	 * (B), and dout padded to a multiple of 64 columns (B, dpad) when OC
	 * is not one (NULL otherwise). */
	void *bmem;
	int *bt0;
	float *bfill;
	float *bcol;
	int *border;
	float *bdout;
	int bdpad;
	bool borrowed;			/* work and bmem are another net's */
};

/* ---- layers ---- */

void nn_matmul_forward(float *out, const float *inp, const float *weight,
		       const float *bias, int B, int C, int OC)
{
	// out (B, OC) = inp (B, C) · weight (OC, C)ᵀ + bias (OC)
	float beta = 0.0f;
	if (bias) {
		for (int b = 0; b < B; b++)
			memcpy(out + (size_t)b * OC, bias, sizeof(float) * OC);
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f,
		    inp, C, weight, C, beta, out, OC);
}

void nn_matmul_forward_naive(float *out, const float *inp,
			     const float *weight, const float *bias,
			     int B, int C, int OC)
{
	for (int b = 0; b < B; b++) {
		const float *x = inp + (size_t)b * C;
		for (int o = 0; o < OC; o++) {
			const float *w = weight + (size_t)o * C;
			float s = bias ? bias[o] : 0.0f;
			for (int i = 0; i < C; i++)
				s += x[i] * w[i];
			out[(size_t)b * OC + o] = s;
		}
	}
}

void nn_matmul_backward(float *dinp, float *dweight, float *dbias,
			const float *dout, const float *inp,
			const float *weight, int B, int C, int OC)
{
	// dinp (B, C) += dout (B, OC) · weight (OC, C)
	if (dinp)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC,
			    1.0f, dout, OC, weight, C, 1.0f, dinp, C);
	// dweight (OC, C) += dout (B, OC)ᵀ · inp (B, C)
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f,
		    dout, OC, inp, C, 1.0f, dweight, C);
	// dbias (OC) += Σ_b dout (B, OC)
	if (dbias)
		for (int b = 0; b < B; b++) {
			const float *restrict d = dout + (size_t)b * OC;
			float *restrict db = dbias;
			for (int o = 0; o < OC; o++)
				db[o] += d[o];
		}
}

void nn_relu_forward(float *out, const float *inp, size_t N)
{
	/* Branch-free: signs are random, so a branch mispredicts half the
	 * time. (v + |v|) / 2 is exact. */
	size_t i = 0;
	for (; i + 8 <= N; i += 8) {	/* blocks compilers vectorise: */
		float v[8];		/* all read before any is written */
		for (int q = 0; q < 8; q++)
			v[q] = inp[i + q];
		for (int q = 0; q < 8; q++)
			out[i + q] = 0.5f * (v[q] + fabsf(v[q]));
	}
	for (; i < N; i++) {
		float v = inp[i];
		out[i] = 0.5f * (v + fabsf(v));
	}
}

void nn_relu_backward(float *dinp, const float *out, const float *dout,
		      size_t N)
{
	for (size_t i = 0; i < N; i++)
		dinp[i] += dout[i] * (float)(out[i] > 0.0f);
}

double nn_sigmoid_bce_forward(float *prob, const float *logit, const float *y,
			      const float *w, int B)
{
	double loss = 0.0;
	for (int b = 0; b < B; b++) {
		double z = logit[b];
		double e = exp(-fabs(z));
		prob[b] = (float)(z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
		// -y log σ(z) - (1-y) log(1-σ(z)), stable for any z
		double l = (z > 0 ? z : 0.0) - z * y[b] + log1p(e);
		loss += (w ? w[b] : 1.0) * l;
	}
	return loss / B;
}

void nn_sigmoid_bce_backward(float *dlogit, const float *prob, const float *y,
			     const float *w, int B)
{
	// dlogit (B) += (prob - y) · w / B
	for (int b = 0; b < B; b++)
		dlogit[b] += (prob[b] - y[b]) * (w ? w[b] : 1.0f) / B;
}

/* The Adam update of elements i .. n-1 (see nn_adam_update). */
static void adam_plain(float *param, const float *grad, float *m, float *v,
		       size_t i, size_t n, float beta1, float beta2,
		       float step, float eps2)
{
	for (; i < n; i++) {
		float g = grad[i];
		float mi = beta1 * m[i] + (1.0f - beta1) * g;
		float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
		m[i] = mi;
		v[i] = vi;
		param[i] -= step * mi / (__builtin_sqrtf(vi) + eps2);
	}
}

/* The same operations on 4 or 8 elements at a time; they return where
 * they stopped. Compilers do not vectorise adam_plain (a square root may
 * set errno), where a step over the 33,000 parameters of the default
 * binned net took a fifth of a training step. */
#if defined(__SSE__)
static size_t adam_sse(float *param, const float *grad, float *m, float *v,
		       size_t n, float beta1, float beta2, float step,
		       float eps2)
{
	__m128 b1 = _mm_set1_ps(beta1), c1 = _mm_set1_ps(1.0f - beta1);
	__m128 b2 = _mm_set1_ps(beta2), c2 = _mm_set1_ps(1.0f - beta2);
	__m128 st = _mm_set1_ps(step), e2 = _mm_set1_ps(eps2);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m128 g = _mm_loadu_ps(grad + i);
		__m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)),
				       _mm_mul_ps(c1, g));
		__m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)),
				       _mm_mul_ps(_mm_mul_ps(c2, g), g));
		_mm_storeu_ps(m + i, mi);
		_mm_storeu_ps(v + i, vi);
		__m128 d = _mm_div_ps(_mm_mul_ps(st, mi),
				      _mm_add_ps(_mm_sqrt_ps(vi), e2));
		_mm_storeu_ps(param + i,
			      _mm_sub_ps(_mm_loadu_ps(param + i), d));
	}
	return i;
}
#endif

#if defined(HAVE_AVX2)
TARGET_AVX2 static size_t adam_avx(float *param, const float *grad,
				   float *m, float *v, size_t n, float beta1,
				   float beta2, float step, float eps2)
{
	__m256 b1 = _mm256_set1_ps(beta1), c1 = _mm256_set1_ps(1.0f - beta1);
	__m256 b2 = _mm256_set1_ps(beta2), c2 = _mm256_set1_ps(1.0f - beta2);
	__m256 st = _mm256_set1_ps(step), e2 = _mm256_set1_ps(eps2);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 g = _mm256_loadu_ps(grad + i);
		__m256 mi = _mm256_add_ps(
			_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)),
			_mm256_mul_ps(c1, g));
		__m256 vi = _mm256_add_ps(
			_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
			_mm256_mul_ps(_mm256_mul_ps(c2, g), g));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		__m256 d = _mm256_div_ps(_mm256_mul_ps(st, mi),
					 _mm256_add_ps(_mm256_sqrt_ps(vi), e2));
		_mm256_storeu_ps(param + i,
				 _mm256_sub_ps(_mm256_loadu_ps(param + i), d));
	}
	return i;
}
#endif

void nn_adam_update(float *param, const float *grad, float *m, float *v,
		    size_t n, float lr, float beta1, float beta2, float eps,
		    int t)
{
	/* m̂ / (√v̂ + ε) = m · √c2 / c1 / (√v + ε √c2) with c = 1 - βᵗ:
	 * the same step with one square root and one division. */
	float c1 = 1.0f - powf(beta1, (float)t);
	float c2 = sqrtf(1.0f - powf(beta2, (float)t));
	float step = lr * c2 / c1, eps2 = eps * c2;
	size_t i = 0;
	switch (kernel_now()) {
	case NN_KERNEL_PLAIN:
		break;
	case NN_KERNEL_VECTOR:
#if defined(__SSE__)
		i = adam_sse(param, grad, m, v, n, beta1, beta2, step, eps2);
#endif
		break;
	case NN_KERNEL_AVX2:
#if defined(HAVE_AVX2)
		i = adam_avx(param, grad, m, v, n, beta1, beta2, step, eps2);
#endif
		break;
	}
	adam_plain(param, grad, m, v, i, n, beta1, beta2, step, eps2);
}

/* ---- the net ---- */

struct nn *nn_new(int n_in, const int *hidden, int n_hidden, int max_batch)
{
	return nn_new_binned(n_in, 1, hidden, n_hidden, max_batch);
}

/* Floats of zeros after the table: a kernel's last block of outputs may
 * read up to 8·NV_MAX - 8 floats past a row (into lanes it drops). */
#define TAB_SLACK 64

/* Bytes rounded up to a multiple of 64 (cache lines). */
static size_t round64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Rows whose bins the forward finds, then sums, at a time: their bins
 * stay in the first-level cache (and the scratch small with many
 * inputs). */
#define BLOCK_ROWS 64

static int block_rows(int C)
{
	int r = 4096 / C;
	return r < 1 ? 1 : r > BLOCK_ROWS ? BLOCK_ROWS : r;
}

/* The binned layer's table (see struct nn), zeroed, aligned to a cache
 * line inside its allocation (rows that straddle lines read slower);
 * false when out of memory. */
static bool alloc_table(struct nn *net)
{
	size_t C = (size_t)net->n_in, T = (size_t)net->bins;
	size_t OC = (size_t)net->out[0];
	size_t ocp = (OC + 7) / 8 * 8;
	size_t tab = sizeof(float) * (ocp + C * (T + 1) * 2 * ocp + TAB_SLACK);
	net->btab_mem = calloc(1, tab + 63);	/* the padding stays 0 */
	if (!net->btab_mem)
		return false;
	net->btab = (float *)(((uintptr_t)net->btab_mem + 63) &
			      ~(uintptr_t)63);
	net->bocp = (int)ocp;
	return true;
}

/* The scratch (see struct nn) of a net of acts activations per row;
 * false when out of memory. */
static bool alloc_scratch(struct nn *net, size_t acts)
{
	size_t C = (size_t)net->n_in, B = (size_t)net->max_batch;
	size_t OC = (size_t)net->out[0];
	/* act, dact, dpre per layer, plus prob */
	net->work = calloc((3 * acts + 1) * B, sizeof(float));
	if (!net->work)
		return false;
	float *p = net->work;
	for (int l = 0; l < net->n_layers; l++) {
		size_t sz = (size_t)net->out[l] * B;
		net->act[l] = p;
		net->dact[l] = p + sz;
		net->dpre[l] = p + 2 * sz;
		p += 3 * sz;
	}
	net->prob = p;
	if (net->bins == 1)
		return true;
	size_t dpad = (OC + 63) / 64 * 64;
	size_t bsize = (size_t)block_rows(net->n_in) * C;
	bsize = bsize > B ? bsize : B;
	size_t fill = round64(sizeof(float) * bsize);
	size_t col = round64(sizeof(float) * B);
	size_t order = round64(sizeof(int) * B);
	size_t dout = dpad == OC ? 0 : round64(sizeof(float) * B * dpad);
	size_t t0 = sizeof(int) * bsize;
	/* calloc: dout's padding stays 0 */
	char *q = calloc(1, fill + col + order + dout + t0);
	net->bmem = q;
	if (!q)
		return false;
	net->bfill = (float *)q;
	net->bcol = (float *)(q + fill);
	net->border = (int *)(q + fill + col);
	net->bdout = dout ? (float *)(q + fill + col + order) : NULL;
	net->bdpad = (int)dpad;
	net->bt0 = (int *)(q + fill + col + order + dout);
	return true;
}

/* Makes net use owner's scratch. */
static void borrow_scratch(struct nn *net, const struct nn *owner)
{
	net->work = owner->work;
	memcpy(net->act, owner->act, sizeof net->act);
	memcpy(net->dact, owner->dact, sizeof net->dact);
	memcpy(net->dpre, owner->dpre, sizeof net->dpre);
	net->prob = owner->prob;
	net->bmem = owner->bmem;
	net->bt0 = owner->bt0;
	net->bfill = owner->bfill;
	net->bcol = owner->bcol;
	net->border = owner->border;
	net->bdout = owner->bdout;
	net->bdpad = owner->bdpad;
	net->borrowed = true;
}

/* A net of this shape with zeroed parameters, its scratch owner's (NULL:
 * its own); NULL when out of memory. */
static struct nn *net_new(int n_in, int bins, const int *hidden,
			  int n_hidden, int max_batch, const struct nn *owner)
{
	assert(n_in > 0 && n_hidden >= 0 && n_hidden <= NN_MAX_HIDDEN);
	assert(max_batch > 0 && bins >= 1 && bins <= 255);
	struct nn *net = calloc(1, sizeof(*net));
	if (!net)
		return NULL;
	net->n_in = n_in;
	net->bins = bins;
	net->n_layers = n_hidden + 1;
	net->max_batch = max_batch;
	size_t n = 0, acts = 0;
	int C = n_in * bins;
	for (int l = 0; l < net->n_layers; l++) {
		int OC = l < n_hidden ? hidden[l] : 1;
		assert(OC > 0);
		net->in[l] = C;
		net->out[l] = OC;
		net->offset[l] = n;
		n += (size_t)OC * C + OC;
		acts += (size_t)OC;
		C = OC;
	}
	net->n_params = n;
	net->mem = calloc(4 * n, sizeof(float));
	bool ok = net->mem && (bins == 1 || alloc_table(net));
	if (ok && owner)
		borrow_scratch(net, owner);
	else if (ok)
		ok = alloc_scratch(net, acts);
	if (!ok) {
		nn_free(net);
		return NULL;
	}
	net->params = net->mem;
	net->grads = net->mem + n;
	net->m = net->mem + 2 * n;
	net->v = net->mem + 3 * n;
	return net;
}

struct nn *nn_new_binned(int n_in, int bins, const int *hidden, int n_hidden,
			 int max_batch)
{
	return net_new(n_in, bins, hidden, n_hidden, max_batch, NULL);
}

struct nn *nn_new_sharing(const struct nn *owner)
{
	assert(!owner->borrowed);
	int hidden[NN_MAX_HIDDEN];
	for (int l = 0; l + 1 < owner->n_layers; l++)
		hidden[l] = owner->out[l];
	return net_new(owner->n_in, owner->bins, hidden, owner->n_layers - 1,
		       owner->max_batch, owner);
}

void nn_free(struct nn *net)
{
	if (!net)
		return;
	free(net->mem);
	free(net->btab_mem);
	if (!net->borrowed) {
		free(net->work);
		free(net->bmem);
	}
	free(net);
}

void nn_copy_state(struct nn *dst, const struct nn *src)
{
	assert(dst->n_params == src->n_params && dst->n_in == src->n_in &&
	       dst->bins == src->bins);
	memcpy(dst->mem, src->mem, 4 * src->n_params * sizeof(float));
	dst->t = src->t;
	dst->btab_ok = false;
}

int nn_bins(const struct nn *net)
{
	return net->bins;
}

int nn_layers(const struct nn *net)
{
	return net->n_layers;
}

void nn_layer_shape(const struct nn *net, int l, int *C, int *OC)
{
	assert(l >= 0 && l < net->n_layers);
	*C = net->in[l];
	*OC = net->out[l];
}

size_t nn_layer_offset(const struct nn *net, int l)
{
	assert(l >= 0 && l < net->n_layers);
	return net->offset[l];
}

int nn_max_batch(const struct nn *net)
{
	return net->max_batch;
}

size_t nn_num_params(const struct nn *net)
{
	return net->n_params;
}

float *nn_params(struct nn *net)
{
	net->btab_ok = false;	/* the caller may write */
	return net->params;
}

float *nn_grads(struct nn *net) { return net->grads; }
float *nn_adam_m(struct nn *net) { return net->m; }
float *nn_adam_v(struct nn *net) { return net->v; }
const float *nn_params_const(const struct nn *net) { return net->params; }
const float *nn_adam_m_const(const struct nn *net) { return net->m; }
const float *nn_adam_v_const(const struct nn *net) { return net->v; }

int nn_adam_t(const struct nn *net)
{
	return net->t;
}

void nn_set_adam_t(struct nn *net, int t)
{
	assert(t >= 0);
	net->t = t;
}

void nn_init(struct nn *net, uint64_t *rng)
{
	memset(net->mem, 0, 4 * net->n_params * sizeof(float));
	for (int l = 0; l < net->n_layers; l++) {
		int C = net->in[l], OC = net->out[l];
		float *w = net->params + net->offset[l];
		/* He for the ReLU layers; a smaller (Glorot-like) start for
		 * the output keeps the first predictions near 0.5. */
		double sd = l + 1 < net->n_layers ? sqrt(2.0 / C)
						  : sqrt(1.0 / (C + OC));
		for (size_t i = 0; i < (size_t)OC * C; i++)
			w[i] = (float)(sd * util_rand_normal(rng));
	}
	net->t = 0;
	net->btab_ok = false;
}

/* ---- the binned first layer ---- */

void nn_bins_encode(float *enc, const float *x, int B, int C, int bins)
{
	for (int b = 0; b < B; b++)
		for (int j = 0; j < C; j++) {
			float p = x[(size_t)b * C + j] * bins;
			for (int t = 0; t < bins; t++) {
				float v = p - t;
				v = v > 1.0f ? 1.0f : v;
				enc[((size_t)b * C + j) * bins + t] =
					v > 0.0f ? v : 0.0f;
			}
		}
}

static int kernel_forced = -1;

enum nn_kernel nn_kernel_best(void)
{
#if defined(HAVE_AVX2)
	if (__builtin_cpu_supports("avx2"))
		return NN_KERNEL_AVX2;
#endif
#if defined(HAVE_VEC)
	return NN_KERNEL_VECTOR;
#else
	return NN_KERNEL_PLAIN;
#endif
}

bool nn_set_kernel(enum nn_kernel k)
{
	if (k > nn_kernel_best())
		return false;
	kernel_forced = (int)k;
	return true;
}

static enum nn_kernel kernel_now(void)
{
	return kernel_forced >= 0 ? (enum nn_kernel)kernel_forced
				  : nn_kernel_best();
}

/* Rebuilds the table (see struct nn) from W_0 (OC, C·T) and b_0 (OC):
 * for each input the slopes are a strided gather from W_0's rows, then
 * the prefixes add whole rows (vectorised, no chain of dependent adds). */
static void bins_prepare(struct nn *net, const float *w)
{
	int C = net->n_in, T = net->bins, OC = net->out[0], ocp = net->bocp;
	size_t CT = (size_t)C * T, row = 2 * (size_t)ocp;
	memcpy(net->btab, w + (size_t)OC * CT, sizeof(float) * OC);
	for (int j = 0; j < C; j++) {
		float *r = net->btab + ocp + (size_t)j * (T + 1) * row;
		const float *wj = w + (size_t)j * T;
		for (int t = 0; t < T; t++) {
			float *restrict s = r + t * row + ocp;
			for (int k = 0; k < OC; k++)
				s[k] = wj[(size_t)k * CT + t];
		}
		/* P[0] = 0 (set at allocation, never written) */
		for (int t = 0; t < T; t++) {
			const float *restrict p = r + t * row;
			const float *restrict s = p + ocp;
			float *restrict next = r + (t + 1) * row;
			int k = 0;
			for (; k + 8 <= OC; k += 8)
				for (int q = 0; q < 8; q++)
					next[k + q] = p[k + q] + s[k + q];
			for (; k < OC; k++)
				next[k] = p[k] + s[k];
		}
	}
}

/* Bin t0 (returned) and fill *f of an input x read as p = x·T: t0 = ⌊p⌋,
 * f = p - t0 inside [0, T); t0 = 0, f = 0 below 0 (and for NaN: every bin
 * empty); t0 = T, f = 0 from T up (every bin full). */
static inline int locate(float x, float fT, float *f)
{
	float p = x * fT;
	p = p >= 0.0f ? p : 0.0f;
	p = p < fT ? p : fT;
	int t = (int)p;
	*f = p - (float)t;
	return t;
}

/* The reference kernels. */

// t0 (n), fill (n) = the bins of x (n)
static void loc_plain(int *restrict t0, float *restrict fill,
		      const float *restrict x, size_t n, int T)
{
	for (size_t i = 0; i < n; i++)
		t0[i] = locate(x[i], (float)T, fill + i);
}

// out (B, OC) = bias + Σ_j P[j][t0] + f · S[j][t0], then its ReLU when
// relu (as nn_relu_forward)
static void fwd_plain(float *restrict out, const float *restrict tab,
		      const int *restrict t0, const float *restrict fill,
		      int B, int C, int T, int OC, int ocp, bool relu)
{
	size_t row = 2 * (size_t)ocp, step = (size_t)(T + 1) * row;
	for (int b = 0; b < B; b++) {
		float *o = out + (size_t)b * OC;
		const float *base = tab + ocp;
		memcpy(o, tab, sizeof(float) * OC);
		for (int j = 0; j < C; j++, base += step) {
			const float *p = base + t0[(size_t)b * C + j] * row;
			float f = fill[(size_t)b * C + j];
			for (int k = 0; k < OC; k++)
				o[k] += p[k] + f * p[ocp + k];
		}
		for (int k = 0; relu && k < OC; k++)
			o[k] = 0.5f * (o[k] + fabsf(o[k]));
	}
}

// dweight (OC, C·T)[·][j·T + t] += F_t + Σ_{t' > t} G_t' for input j:
// bin t is full for rows whose t0 is above it, filled to f where t0 = t,
// so with G_t = Σ_{t0 = t} dout and F_t = Σ_{t0 = t} f · dout over the
// rows of bin t (order, start from bins_sort); fill (B) of input j
static void bwd_plain(float *restrict dweight, const float *restrict dout,
		      int ldd, const float *restrict fill,
		      const int *restrict order, const int *restrict start,
		      int C, int T, int OC, int j)
{
	size_t CT = (size_t)C * T;
	for (int k = 0; k < OC; k++) {
		float *dw = dweight + (size_t)k * CT + (size_t)j * T;
		float r = 0.0f;
		for (int t = T; t >= 0; t--) {
			float g = 0.0f, F = 0.0f;
			for (int i = start[t]; i < start[t + 1]; i++) {
				int b = order[i];
				float d = dout[(size_t)b * ldd + k];
				g += d;
				F += fill[b] * d;
			}
			if (t < T)
				dw[t] += F + r;
			r += g;
		}
	}
}

#if defined(HAVE_VEC)

typedef int ivec __attribute__((vector_size(32)));
typedef int ivecu __attribute__((vector_size(32), aligned(4), may_alias));

/* loc_plain, 8 inputs at a time with the same operations (the same
 * results): a scalar loop of locate() compiles to branches that
 * mispredict on every other input. */
KERNEL void loc_vec(int *restrict t0, float *restrict fill,
		    const float *restrict x, size_t n, int T)
{
	float fT = (float)T;
	size_t i = 0;
	for (; i + VL <= n; i += VL) {
		vec p = VAT_C(x + i) * fT;
		ivec in = p >= 0.0f;			/* NaN: no */
		p = (vec)((ivec)p & in);
		ivec low = p < fT;
		p = (vec)(((ivec)p & low) | ((ivec)(p - p + fT) & ~low));
		ivec t = __builtin_convertvector(p, ivec);
		*(ivecu *)(t0 + i) = t;
		VAT(fill + i) = p - __builtin_convertvector(t, vec);
	}
	for (; i < n; i++)
		t0[i] = locate(x[i], fT, fill + i);
}

/* fwd_plain, NV vectors of outputs at a time. A last block past OC reads
 * into the next row or TAB_SLACK and drops those lanes. The ReLU as the
 * sums are stored saves a pass over the outputs. */
KERNEL void fwd_vec(int NV, float *restrict out, const float *restrict tab,
		    const int *restrict t0, const float *restrict fill,
		    int B, int C, int T, int OC, int ocp, bool relu)
{
	size_t row = 2 * (size_t)ocp, step = (size_t)(T + 1) * row;
	for (int k0 = 0; k0 < OC; k0 += VL * NV) {
		int n = OC - k0 < VL * NV ? OC - k0 : VL * NV;
		for (int b = 0; b < B; b++) {
			const int *tb = t0 + (size_t)b * C;
			const float *fb = fill + (size_t)b * C;
			const float *base = tab + ocp + k0;
			vec acc[NV_MAX];
#pragma GCC unroll 8
			for (int v = 0; v < NV; v++)
				acc[v] = VAT_C(tab + k0 + VL * v);
			for (int j = 0; j < C; j++, base += step) {
				const float *p = base + tb[j] * row;
				float f = fb[j];
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++)
					acc[v] += VAT_C(p + VL * v) +
						  f * VAT_C(p + ocp + VL * v);
			}
			if (relu)
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++)	/* |x| */
					acc[v] = 0.5f * (acc[v] +
							 (vec)((ivec)acc[v] &
							       0x7fffffff));
			float *o = out + (size_t)b * OC + k0;
			if (n == VL * NV) {
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++)
					VAT(o + VL * v) = acc[v];
			} else {
				float tmp[VL * NV_MAX];
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++)
					VAT(tmp + VL * v) = acc[v];
				memcpy(o, tmp, sizeof(float) * n);
			}
		}
	}
}

/* bwd_plain, NV vectors of outputs at a time; dout has columns up to a
 * multiple of VL·NV (zeros past OC). */
KERNEL void bwd_vec(int NV, float *restrict dweight,
		    const float *restrict dout, int ldd,
		    const float *restrict fill, const int *restrict order,
		    const int *restrict start, int C, int T, int OC, int j)
{
	size_t CT = (size_t)C * T;
	const vec zero = { 0.0f };
	for (int k0 = 0; k0 < OC; k0 += VL * NV) {
		int n = OC - k0 < VL * NV ? OC - k0 : VL * NV;
		float *dw = dweight + (size_t)k0 * CT + (size_t)j * T;
		vec r[NV_MAX], g[NV_MAX], F[NV_MAX];
#pragma GCC unroll 8
		for (int v = 0; v < NV; v++)
			r[v] = zero;
		for (int t = T; t >= 0; t--) {
#pragma GCC unroll 8
			for (int v = 0; v < NV; v++)
				g[v] = zero, F[v] = zero;
			for (int i = start[t]; i < start[t + 1]; i++) {
				int b = order[i];
				const float *d = dout + (size_t)b * ldd + k0;
				float f = fill[b];
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++) {
					vec dv = VAT_C(d + VL * v);
					g[v] += dv;
					F[v] += f * dv;
				}
			}
			if (t < T) {
				float col[VL * NV_MAX];
#pragma GCC unroll 8
				for (int v = 0; v < NV; v++)
					VAT(col + VL * v) = F[v] + r[v];
				for (int q = 0; q < n; q++)
					dw[(size_t)q * CT + t] += col[q];
			}
#pragma GCC unroll 8
			for (int v = 0; v < NV; v++)
				r[v] += g[v];
		}
	}
}

/* The builds: 32 outputs at a time for the baseline (8 registers of
 * sums), 64 for AVX2 forward; backward holds three sets of sums. */
static void loc_vector(int *restrict t0, float *restrict fill,
		       const float *restrict x, size_t n, int T)
{
	loc_vec(t0, fill, x, n, T);
}

static void fwd_vector(float *restrict out, const float *restrict tab,
		       const int *restrict t0, const float *restrict fill,
		       int B, int C, int T, int OC, int ocp, bool relu)
{
	fwd_vec(4, out, tab, t0, fill, B, C, T, OC, ocp, relu);
}

static void bwd_vector(float *restrict dweight, const float *restrict dout,
		       int ldd, const float *restrict fill,
		       const int *restrict order, const int *restrict start,
		       int C, int T, int OC, int j)
{
	bwd_vec(2, dweight, dout, ldd, fill, order, start, C, T, OC, j);
}

#if defined(HAVE_AVX2)
TARGET_AVX2 static void loc_avx2(int *restrict t0, float *restrict fill,
				 const float *restrict x, size_t n, int T)
{
	loc_vec(t0, fill, x, n, T);
}

TARGET_AVX2 static void fwd_avx2(float *restrict out,
				 const float *restrict tab,
				 const int *restrict t0,
				 const float *restrict fill, int B, int C,
				 int T, int OC, int ocp, bool relu)
{
	fwd_vec(8, out, tab, t0, fill, B, C, T, OC, ocp, relu);
}

TARGET_AVX2 static void bwd_avx2(float *restrict dweight,
				 const float *restrict dout, int ldd,
				 const float *restrict fill,
				 const int *restrict order,
				 const int *restrict start, int C, int T,
				 int OC, int j)
{
	bwd_vec(4, dweight, dout, ldd, fill, order, start, C, T, OC, j);
}
#endif
#endif

/* One build's kernels. */
struct build {
	void (*loc)(int *restrict, float *restrict, const float *restrict,
		    size_t, int);
	void (*fwd)(float *restrict, const float *restrict,
		    const int *restrict, const float *restrict, int, int, int,
		    int, int, bool);
	void (*bwd)(float *restrict, const float *restrict, int,
		    const float *restrict, const int *restrict,
		    const int *restrict, int, int, int, int);
	bool padded;		/* bwd reads dout past OC, to VL·NV_MAX */
};

static struct build build_now(void)
{
	struct build k = { loc_plain, fwd_plain, bwd_plain, false };
#if defined(HAVE_VEC)
	switch (kernel_now()) {
	case NN_KERNEL_PLAIN:
		break;
	case NN_KERNEL_VECTOR:
		k = (struct build){ loc_vector, fwd_vector, bwd_vector, true };
		break;
	case NN_KERNEL_AVX2:
#if defined(HAVE_AVX2)
		k = (struct build){ loc_avx2, fwd_avx2, bwd_avx2, true };
#endif
		break;
	}
#endif
	return k;
}

/* Rows of the batch in bin order, from their bins t0 (B): bin t's rows,
 * ascending, are order[start[t]] .. order[start[t + 1] - 1] (start has
 * T + 2 entries). */
static void bins_sort(int *restrict order, int *restrict start,
		      const int *restrict t0, int B, int T)
{
	int pos[256];
	memset(start, 0, sizeof(int) * (T + 2));
	for (int b = 0; b < B; b++)
		start[t0[b] + 1]++;
	for (int t = 0; t <= T; t++)
		start[t + 1] += start[t];
	memcpy(pos, start, sizeof(int) * (T + 1));
	for (int b = 0; b < B; b++)
		order[pos[t0[b]]++] = b;
}

// out (B, OC) = enc(inp (B, C)) · W_0 (OC, C·T)ᵀ + bias (OC), where the
// encoding of u has bins 0 .. t0-1 full and bin t0 filled to f:
// out += P[j][t0] + f · S[j][t0]; then ReLU'd when relu
static void bins_forward(struct nn *net, float *out, const float *inp,
			 const float *w, int B, bool relu)
{
	int C = net->n_in, T = net->bins, OC = net->out[0];
	struct build k = build_now();
	if (!net->btab_ok)
		bins_prepare(net, w);
	net->btab_ok = true;
	int rows = block_rows(C);
	for (int b0 = 0; b0 < B; b0 += rows) {
		int n = B - b0 < rows ? B - b0 : rows;
		k.loc(net->bt0, net->bfill, inp + (size_t)b0 * C, (size_t)n * C,
		      T);
		k.fwd(out + (size_t)b0 * OC, net->btab, net->bt0, net->bfill, n,
		      C, T, OC, net->bocp, relu);
	}
}

// dweight (OC, C·T) += dout (B, OC)ᵀ · enc(inp) (B, C·T);
// dbias (OC) += Σ_b dout; dinp (B, C) += T · dout · S[j][t0] where
// 0 ≤ inp·T < T (NULL: skip)
static void bins_backward(struct nn *net, float *dinp, float *dweight,
			  float *dbias, const float *dout, const float *inp,
			  int B)
{
	int C = net->n_in, T = net->bins, OC = net->out[0];
	struct build k = build_now();
	for (int b = 0; b < B; b++) {
		const float *restrict d = dout + (size_t)b * OC;
		float *restrict db = dbias;
		int o = 0;
		for (; o + 8 <= OC; o += 8)	/* vectorised */
			for (int q = 0; q < 8; q++)
				db[o + q] += d[o + q];
		for (; o < OC; o++)
			db[o] += d[o];
	}
	const float *d = dout;
	int ldd = OC;
	if (k.padded && net->bdout) {
		for (int b = 0; b < B; b++)
			memcpy(net->bdout + (size_t)b * net->bdpad,
			       dout + (size_t)b * OC, sizeof(float) * OC);
		d = net->bdout;
		ldd = net->bdpad;
	}
	int start[256 + 2];
	size_t row = 2 * (size_t)net->bocp;
	for (int j = 0; j < C; j++) {	/* input j's column of the batch */
		for (int b = 0; b < B; b++)
			net->bcol[b] = inp[(size_t)b * C + j];
		k.loc(net->bt0, net->bfill, net->bcol, B, T);
		bins_sort(net->border, start, net->bt0, B, T);
		k.bwd(dweight, d, ldd, net->bfill, net->border, start, C, T,
		      OC, j);
		for (int b = 0; dinp && b < B; b++) {
			float p = net->bcol[b] * T;
			if (!(p >= 0.0f && p < (float)T))
				continue;	/* clamped: no gradient */
			const float *sp = net->btab + net->bocp +
					  ((size_t)j * (T + 1) +
					   net->bt0[b]) * row + net->bocp;
			const float *db = dout + (size_t)b * OC;
			float s = 0.0f;
			for (int o = 0; o < OC; o++)
				s += db[o] * sp[o];
			dinp[(size_t)b * C + j] += (float)T * s;
		}
	}
}

const float *nn_forward(struct nn *net, const float *x, int B)
{
	assert(B > 0 && B <= net->max_batch);
	const float *inp = x;
	for (int l = 0; l < net->n_layers; l++) {
		int C = net->in[l], OC = net->out[l];
		const float *w = net->params + net->offset[l];
		bool hidden = l + 1 < net->n_layers;
		if (l == 0 && net->bins > 1) {
			bins_forward(net, net->act[0], x, w, B, hidden);
		} else {
			nn_matmul_forward(net->act[l], inp, w,
					  w + (size_t)OC * C, B, C, OC);
			if (hidden)
				nn_relu_forward(net->act[l], net->act[l],
						(size_t)B * OC);
		}
		inp = net->act[l];
	}
	const float *logit = net->act[net->n_layers - 1];
	for (int b = 0; b < B; b++) {
		float z = logit[b];
		net->prob[b] = z >= 0 ? 1.0f / (1.0f + expf(-z))
				      : expf(z) / (1.0f + expf(z));
	}
	return net->prob;
}

const float *nn_logits(const struct nn *net)
{
	return net->act[net->n_layers - 1];
}

double nn_loss(const struct nn *net, const float *y, const float *w, int B,
	       float l2)
{
	/* From the logits forward kept: stable for any logit. */
	const float *logit = net->act[net->n_layers - 1];
	double loss = 0.0;
	for (int b = 0; b < B; b++) {
		double z = logit[b];
		double l = (z > 0 ? z : 0.0) - z * y[b] + log1p(exp(-fabs(z)));
		loss += (w ? w[b] : 1.0) * l;
	}
	loss /= B;
	if (l2 > 0.0f) {
		double s = 0.0;
		for (int l = 0; l < net->n_layers; l++) {
			const float *W = net->params + net->offset[l];
			size_t n = (size_t)net->in[l] * net->out[l];
			for (size_t i = 0; i < n; i++)
				s += (double)W[i] * W[i];
		}
		loss += 0.5 * l2 * s;
	}
	return loss;
}

void nn_zero_grad(struct nn *net)
{
	memset(net->grads, 0, net->n_params * sizeof(float));
}

/* dpre (N) = dout (N) where out (N) > 0, else 0: nn_relu_backward into a
 * zeroed dpre, without a branch. Our ReLU outputs are never -0 or
 * negative, so out > 0 exactly when its bits are not all zero. */
static inline void relu_backward_one(float *restrict dpre,
				     const float *restrict out,
				     const float *restrict dout)
{
	uint32_t o, d;
	memcpy(&o, out, 4);
	memcpy(&d, dout, 4);
	d &= 0u - (uint32_t)(o != 0);
	memcpy(dpre, &d, 4);
}

static void relu_backward_set(float *restrict dpre, const float *restrict out,
			      const float *restrict dout, size_t N)
{
	size_t i = 0;
	for (; i + 8 <= N; i += 8) {	/* blocks compilers vectorise */
		uint32_t o[8], d[8];
		memcpy(o, out + i, sizeof o);
		memcpy(d, dout + i, sizeof d);
		for (int q = 0; q < 8; q++)
			d[q] &= 0u - (uint32_t)(o[q] != 0);
		memcpy(dpre + i, d, sizeof d);
	}
	for (; i < N; i++)
		relu_backward_one(dpre + i, out + i, dout + i);
}

/* y (n) += a · x (n), in blocks compilers vectorise. */
static void axpy(float *restrict y, float a, const float *restrict x,
		 size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int q = 0; q < 8; q++)
			y[i + q] += a * x[i + q];
	for (; i < n; i++)
		y[i] += a * x[i];
}

/* Backward from the gradient in dact[last] (B), already filled. */
static void backward_from_logits(struct nn *net, const float *x, int B,
				 float *dx)
{
	for (int l = net->n_layers - 1; l >= 0; l--) {
		int C = net->in[l], OC = net->out[l];
		const float *w = net->params + net->offset[l];
		float *dw = net->grads + net->offset[l];
		const float *dout = net->dact[l];
		if (l + 1 < net->n_layers) {
			relu_backward_set(net->dpre[l], net->act[l],
					  net->dact[l], (size_t)B * OC);
			dout = net->dpre[l];
		}
		float *dinp = NULL;
		if (l > 0) {
			dinp = net->dact[l - 1];
			memset(dinp, 0, sizeof(float) * B * C);
		} else {
			dinp = dx;
		}
		if (l == 0 && net->bins > 1)
			bins_backward(net, dinp, dw, dw + (size_t)OC * C, dout,
				      x, B);
		else
			nn_matmul_backward(dinp, dw, dw + (size_t)OC * C,
					   dout, l > 0 ? net->act[l - 1] : x,
					   w, B, C, OC);
	}
}

void nn_backward(struct nn *net, const float *x, const float *y,
		 const float *w, int B, float l2, float *dx)
{
	assert(B > 0 && B <= net->max_batch);
	float *dlogit = net->dact[net->n_layers - 1];
	memset(dlogit, 0, sizeof(float) * B);
	nn_sigmoid_bce_backward(dlogit, net->prob, y, w, B);
	backward_from_logits(net, x, B, dx);
	if (l2 > 0.0f)
		for (int l = 0; l < net->n_layers; l++)
			axpy(net->grads + net->offset[l], l2,
			     net->params + net->offset[l],
			     (size_t)net->in[l] * net->out[l]);
}

void nn_input_gradient(struct nn *net, const float *x, int B, float scale,
		       float *dx)
{
	assert(B > 0 && B <= net->max_batch);
	float *dlogit = net->dact[net->n_layers - 1];
	for (int b = 0; b < B; b++)
		dlogit[b] = scale * net->prob[b] * (1.0f - net->prob[b]);
	backward_from_logits(net, x, B, dx);
}

void nn_adam_step(struct nn *net, float lr)
{
	net->t++;
	net->btab_ok = false;
	nn_adam_update(net->params, net->grads, net->m, net->v, net->n_params,
		       lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS, net->t);
}

/* ---- floating-point mode ---- */

/* MXCSR bits: FTZ (flush results to zero) and DAZ (read denormal inputs
 * as zero). */
#define MXCSR_FTZ_DAZ 0x8040u

unsigned nn_fp_fast(void)
{
#if defined(__SSE__)
	unsigned mode = _mm_getcsr();
	_mm_setcsr(mode | MXCSR_FTZ_DAZ);
	return mode;
#else
	return 0;
#endif
}

void nn_fp_restore(unsigned mode)
{
#if defined(__SSE__)
	_mm_setcsr(mode);
#else
	(void)mode;
#endif
}
