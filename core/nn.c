/* Dense net, llm.c style: see nn.h. */
#include "core/nn.h"
#include "core/util.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

	/* Activations, one allocation: act[l] (B, O_l) is the output of layer
	 * l after its ReLU (the logits for the last layer); dact[l] the
	 * gradient with respect to it; dpre[l] the gradient before the ReLU. */
	float *work;
	float *act[NN_MAX_HIDDEN + 1];
	float *dact[NN_MAX_HIDDEN + 1];
	float *dpre[NN_MAX_HIDDEN + 1];
	float *prob;			/* (B) */

	/* Binned first layer (bins > 1), one allocation: slope S and prefix
	 * P of W_0 in input-major order, S (n_in, T, OC), P (n_in, T+1, OC)
	 * with P[j][t] = Σ_{t' < t} S[j][t']; the gradient sums G and F of
	 * the same shape as P; each row's bin t0 (B, n_in) and the fill of
	 * that bin f (B, n_in) from the last forward. */
	float *bwork;
	float *bs, *bp, *bg, *bf;
	int *bt0;
	float *bfill;
	bool bins_borrowed;		/* the scratch is another net's */
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
	for (size_t i = 0; i < N; i++) {
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

void nn_adam_update(float *param, const float *grad, float *m, float *v,
		    size_t n, float lr, float beta1, float beta2, float eps,
		    int t)
{
	/* m̂ / (√v̂ + ε) = m · √c2 / c1 / (√v + ε √c2) with c = 1 - βᵗ:
	 * the same step with one square root and one division. */
	float c1 = 1.0f - powf(beta1, (float)t);
	float c2 = sqrtf(1.0f - powf(beta2, (float)t));
	float step = lr * c2 / c1, eps2 = eps * c2;
	for (size_t i = 0; i < n; i++) {
		float g = grad[i];
		float mi = beta1 * m[i] + (1.0f - beta1) * g;
		float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
		m[i] = mi;
		v[i] = vi;
		param[i] -= step * mi / (__builtin_sqrtf(vi) + eps2);
	}
}

/* ---- the net ---- */

struct nn *nn_new(int n_in, const int *hidden, int n_hidden, int max_batch)
{
	return nn_new_binned(n_in, 1, hidden, n_hidden, max_batch);
}

/* The binned layer's scratch; false when out of memory. */
static bool alloc_bins(struct nn *net)
{
	size_t C = (size_t)net->n_in, T = (size_t)net->bins;
	size_t OC = (size_t)net->out[0], B = (size_t)net->max_batch;
	size_t ns = C * T * OC, np = C * (T + 1) * OC;
	net->bwork = malloc(sizeof(float) * (ns + 3 * np + B * C));
	net->bt0 = malloc(sizeof(int) * B * C);
	if (!net->bwork || !net->bt0)
		return false;
	net->bs = net->bwork;
	net->bp = net->bs + ns;
	net->bg = net->bp + np;
	net->bf = net->bg + np;
	net->bfill = net->bf + np;
	return true;
}

struct nn *nn_new_binned(int n_in, int bins, const int *hidden, int n_hidden,
			 int max_batch)
{
	assert(n_in > 0 && n_hidden >= 0 && n_hidden <= NN_MAX_HIDDEN);
	assert(max_batch > 0 && bins >= 1);
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
	/* act, dact, dpre per layer, plus prob */
	net->work = calloc((3 * acts + 1) * (size_t)max_batch, sizeof(float));
	if (!net->mem || !net->work || (bins > 1 && !alloc_bins(net))) {
		nn_free(net);
		return NULL;
	}
	net->params = net->mem;
	net->grads = net->mem + n;
	net->m = net->mem + 2 * n;
	net->v = net->mem + 3 * n;
	float *p = net->work;
	for (int l = 0; l < net->n_layers; l++) {
		size_t sz = (size_t)net->out[l] * max_batch;
		net->act[l] = p;
		net->dact[l] = p + sz;
		net->dpre[l] = p + 2 * sz;
		p += 3 * sz;
	}
	net->prob = p;
	return net;
}

void nn_free(struct nn *net)
{
	if (!net)
		return;
	free(net->mem);
	free(net->work);
	if (!net->bins_borrowed) {
		free(net->bwork);
		free(net->bt0);
	}
	free(net);
}

bool nn_bins_share(struct nn *net, const struct nn *owner)
{
	if (net->bins == 1)
		return true;
	if (owner->bins != net->bins || owner->n_in != net->n_in ||
	    owner->out[0] != net->out[0] || owner->max_batch < net->max_batch ||
	    owner->bins_borrowed)
		return false;
	if (!net->bins_borrowed) {
		free(net->bwork);
		free(net->bt0);
	}
	net->bwork = owner->bwork;
	net->bt0 = owner->bt0;
	net->bs = owner->bs, net->bp = owner->bp;
	net->bg = owner->bg, net->bf = owner->bf;
	net->bfill = owner->bfill;
	net->bins_borrowed = true;
	return true;
}

void nn_copy_state(struct nn *dst, const struct nn *src)
{
	assert(dst->n_params == src->n_params && dst->n_in == src->n_in &&
	       dst->bins == src->bins);
	memcpy(dst->mem, src->mem, 4 * src->n_params * sizeof(float));
	dst->t = src->t;
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

float *nn_params(struct nn *net) { return net->params; }
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

/* o (n) += a (n, NULL: none) + f · s (n), in blocks of 8 that compilers
 * vectorise at -O2 (the hot loop of the binned layer). */
static inline void axpy2(float *restrict o, const float *restrict a, float f,
			 const float *restrict s, int n)
{
	int k = 0;
	if (a)
		for (; k + 8 <= n; k += 8)
			for (int q = 0; q < 8; q++)
				o[k + q] += a[k + q] + f * s[k + q];
	else
		for (; k + 8 <= n; k += 8)
			for (int q = 0; q < 8; q++)
				o[k + q] += f * s[k + q];
	for (; k < n; k++)
		o[k] += (a ? a[k] : 0.0f) + f * s[k];
}

/* Rebuilds the slopes S and prefixes P from W_0 (OC, C·T). */
static void bins_prepare(struct nn *net, const float *w)
{
	int C = net->n_in, T = net->bins, OC = net->out[0];
	for (int j = 0; j < C; j++)
		for (int k = 0; k < OC; k++) {
			const float *wk = w + (size_t)k * C * T + (size_t)j * T;
			float *pj = net->bp + (size_t)j * (T + 1) * OC + k;
			float *sj = net->bs + (size_t)j * T * OC + k;
			float acc = 0.0f;
			for (int t = 0; t < T; t++) {
				pj[(size_t)t * OC] = acc;
				sj[(size_t)t * OC] = wk[t];
				acc += wk[t];
			}
			pj[(size_t)T * OC] = acc;
		}
}

/* Output units summed at once: 32 accumulators stay in registers while
 * the inputs stream by. */
#define BIN_CHUNK 32

// out (B, OC) = enc(inp (B, C)) · W_0 (OC, C·T)ᵀ + bias (OC), where the
// encoding of u has bins 0 .. t0-1 full and bin t0 filled to f:
// out += P[j][t0] + f · S[j][t0]
static void bins_forward(struct nn *net, float *out, const float *inp,
			 const float *w, int B)
{
	int C = net->n_in, T = net->bins, OC = net->out[0];
	const float *bias = w + (size_t)OC * C * T;
	bins_prepare(net, w);
	for (int b = 0; b < B; b++) {
		int *t0s = net->bt0 + (size_t)b * C;
		float *fs = net->bfill + (size_t)b * C;
		for (int j = 0; j < C; j++) {
			float p = inp[(size_t)b * C + j] * T;
			/* Below 0 (or NaN) every bin is empty and the input
			 * has no gradient: t0 = -1, read as bin 0 filled 0. */
			int below = !(p >= 0.0f);
			if (below)
				p = 0.0f;
			int t0 = p < (float)T ? (int)p : T;
			fs[j] = t0 < T ? p - (float)t0 : 0.0f;
			t0s[j] = below ? -1 : t0;
		}
		for (int k0 = 0; k0 < OC; k0 += BIN_CHUNK) {
			float acc[BIN_CHUNK];
			int n = OC - k0 < BIN_CHUNK ? OC - k0 : BIN_CHUNK;
			memcpy(acc, bias + k0, sizeof(float) * n);
			for (int j = 0; j < C; j++) {
				int t0 = t0s[j] < 0 ? 0 : t0s[j];
				const float *pp = net->bp + k0 +
					((size_t)j * (T + 1) + t0) * OC;
				const float *sp = net->bs + k0 +
					((size_t)j * T + (t0 < T ? t0 : T - 1)) *
						OC;
				float f = fs[j];
				if (n == BIN_CHUNK)
					for (int q = 0; q < BIN_CHUNK; q++)
						acc[q] += pp[q] + f * sp[q];
				else
					for (int q = 0; q < n; q++)
						acc[q] += pp[q] + f * sp[q];
			}
			memcpy(out + (size_t)b * OC + k0, acc,
			       sizeof(float) * n);
		}
	}
}

// dweight (OC, C·T) += dout (B, OC)ᵀ · enc(inp) (B, C·T);
// dbias (OC) += Σ_b dout; dinp (B, C) += T · dout · S[j][t0] (NULL: skip)
static void bins_backward(struct nn *net, float *dinp, float *dweight,
			  float *dbias, const float *dout, int B)
{
	int C = net->n_in, T = net->bins, OC = net->out[0];
	size_t np = (size_t)C * (T + 1) * OC;
	memset(net->bg, 0, sizeof(float) * np);
	memset(net->bf, 0, sizeof(float) * np);
	for (int b = 0; b < B; b++) {
		const float *restrict d = dout + (size_t)b * OC;
		for (int k = 0; k < OC; k++)
			dbias[k] += d[k];
		for (int j = 0; j < C; j++) {
			int t0 = net->bt0[(size_t)b * C + j];
			float f = net->bfill[(size_t)b * C + j];
			if (t0 < 0)
				continue;	/* all bins empty */
			size_t at = ((size_t)j * (T + 1) + t0) * OC;
			axpy2(net->bg + at, d, 0.0f, d, OC);
			axpy2(net->bf + at, NULL, f, d, OC);
			if (dinp && t0 < T) {
				const float *sp =
					net->bs + ((size_t)j * T + t0) * OC;
				float s = 0.0f;
				for (int k = 0; k < OC; k++)
					s += d[k] * sp[k];
				dinp[(size_t)b * C + j] += (float)T * s;
			}
		}
	}
	/* Bin t is full for rows whose t0 is above it, filled to f where
	 * t0 = t: dW[t] = F[t] + Σ_{t' > t} G[t']. */
	for (int j = 0; j < C; j++)
		for (int k = 0; k < OC; k++) {
			const float *g = net->bg + (size_t)j * (T + 1) * OC + k;
			const float *fg = net->bf + (size_t)j * (T + 1) * OC + k;
			float *dw = dweight + (size_t)k * C * T + (size_t)j * T;
			float r = 0.0f;
			for (int t = T - 1; t >= 0; t--) {
				r += g[(size_t)(t + 1) * OC];
				dw[t] += fg[(size_t)t * OC] + r;
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
		if (l == 0 && net->bins > 1)
			bins_forward(net, net->act[0], x, w, B);
		else
			nn_matmul_forward(net->act[l], inp, w,
					  w + (size_t)OC * C, B, C, OC);
		if (l + 1 < net->n_layers)
			nn_relu_forward(net->act[l], net->act[l],
					(size_t)B * OC);
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
static void relu_backward_set(float *restrict dpre, const float *restrict out,
			      const float *restrict dout, size_t N)
{
	for (size_t i = 0; i < N; i++) {
		uint32_t o, d;
		memcpy(&o, &out[i], 4);
		memcpy(&d, &dout[i], 4);
		d &= 0u - (uint32_t)(o != 0);
		memcpy(&dpre[i], &d, 4);
	}
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
				      B);
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
		for (int l = 0; l < net->n_layers; l++) {
			const float *W = net->params + net->offset[l];
			float *dW = net->grads + net->offset[l];
			size_t n = (size_t)net->in[l] * net->out[l];
			for (size_t i = 0; i < n; i++)
				dW[i] += l2 * W[i];
		}
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
