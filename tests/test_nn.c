/* core/nn: layers against references, gradients against finite
 * differences, Adam against hand-computed steps, and learning XOR and two
 * interleaved moons. */
#include "core/nn.h"
#include "core/util.h"
#include "daemon/blas.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_normal(float *a, size_t n, uint64_t *rng, double sd)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(sd * util_rand_normal(rng));
}

static void test_blas_forward_equals_naive(void)
{
	uint64_t rng = 1;
	/* Odd shapes, including a single output column. */
	int shapes[][3] = { { 7, 13, 5 }, { 33, 60, 64 }, { 1, 3, 1 },
			    { 129, 64, 32 }, { 50, 32, 1 } };
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int B = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
		float *x = malloc(sizeof(float) * B * C);
		float *w = malloc(sizeof(float) * OC * C);
		float *b = malloc(sizeof(float) * OC);
		float *o1 = malloc(sizeof(float) * B * OC);
		float *o2 = malloc(sizeof(float) * B * OC);
		fill_normal(x, (size_t)B * C, &rng, 1.0);
		fill_normal(w, (size_t)OC * C, &rng, 1.0);
		fill_normal(b, OC, &rng, 1.0);
		nn_matmul_forward(o1, x, w, b, B, C, OC);
		nn_matmul_forward_naive(o2, x, w, b, B, C, OC);
		double worst = 0;
		for (int i = 0; i < B * OC; i++) {
			double e = fabs(o1[i] - o2[i]) / (1.0 + fabs(o2[i]));
			if (e > worst)
				worst = e;
		}
		CHECK_MSG(worst < 1e-5, "shape %dx%dx%d: error %g", B, C, OC,
			  worst);
		/* Without a bias too. */
		nn_matmul_forward(o1, x, w, NULL, B, C, OC);
		nn_matmul_forward_naive(o2, x, w, NULL, B, C, OC);
		for (int i = 0; i < B * OC; i++)
			if (fabs(o1[i] - o2[i]) > 1e-4 * (1.0 + fabs(o2[i]))) {
				CHECK_MSG(0, "no bias: %g vs %g", o1[i], o2[i]);
				break;
			}
		free(x), free(w), free(b), free(o1), free(o2);
	}
}

static void test_matmul_backward_adds(void)
{
	/* Backward adds into what is there: run it twice on zeroed buffers
	 * and compare with twice the naive gradient. */
	int B = 3, C = 4, OC = 2;
	uint64_t rng = 7;
	float x[12], w[8], dout[6], dx[12] = { 0 }, dw[8] = { 0 }, db[2] = { 0 };
	fill_normal(x, 12, &rng, 1), fill_normal(w, 8, &rng, 1);
	fill_normal(dout, 6, &rng, 1);
	nn_matmul_backward(dx, dw, db, dout, x, w, B, C, OC);
	nn_matmul_backward(dx, dw, db, dout, x, w, B, C, OC);
	for (int b = 0; b < B; b++)
		for (int c = 0; c < C; c++) {
			double s = 0;
			for (int o = 0; o < OC; o++)
				s += dout[b * OC + o] * w[o * C + c];
			CHECK_NEAR(dx[b * C + c], 2 * s, 1e-5);
		}
	for (int o = 0; o < OC; o++) {
		double sb = 0;
		for (int b = 0; b < B; b++)
			sb += dout[b * OC + o];
		CHECK_NEAR(db[o], 2 * sb, 1e-5);
		for (int c = 0; c < C; c++) {
			double s = 0;
			for (int b = 0; b < B; b++)
				s += dout[b * OC + o] * x[b * C + c];
			CHECK_NEAR(dw[o * C + c], 2 * s, 1e-5);
		}
	}
}

static void test_sigmoid_bce(void)
{
	float logit[4] = { 0.0f, 2.0f, -3.0f, 40.0f };
	float y[4] = { 1, 0, 0, 0 };
	float w[4] = { 1, 2, 0.5f, 1 };
	float prob[4], d[4] = { 0 };
	double loss = nn_sigmoid_bce_forward(prob, logit, y, w, 4);
	CHECK_NEAR(prob[0], 0.5, 1e-7);
	CHECK_NEAR(prob[1], 1 / (1 + exp(-2.0)), 1e-6);
	/* log(2) + 2·(2 + log(1+e⁻²)) + 0.5·log(1+e⁻³) + 40 (stable) */
	double want = (log(2.0) + 2 * (2 + log1p(exp(-2.0))) +
		       0.5 * log1p(exp(-3.0)) + 40 + log1p(exp(-40.0))) / 4;
	CHECK_NEAR(loss, want, 1e-5);
	CHECK(isfinite(loss));
	nn_sigmoid_bce_backward(d, prob, y, w, 4);
	CHECK_NEAR(d[0], (0.5 - 1) * 1 / 4.0, 1e-7);
	CHECK_NEAR(d[1], prob[1] * 2 / 4.0, 1e-7);
	CHECK_NEAR(d[2], prob[2] * 0.5 / 4.0, 1e-7);
}

/* Loss of the whole net at its current parameters, in double where it
 * matters. */
static double net_loss(struct nn *net, const float *x, const float *y,
		       const float *w, int B, float l2)
{
	nn_forward(net, x, B);
	return nn_loss(net, y, w, B, l2);
}

static void test_gradient_check(void)
{
	int hidden[2] = { 6, 5 };
	int B = 8, C = 4;
	float l2 = 0.05f;
	struct nn *net = nn_new(C, hidden, 2, B);
	if (!CHECK(net))
		return;
	uint64_t rng = 42;
	nn_init(net, &rng);
	/* Non-zero biases so every tensor's gradient is exercised. */
	float *p = nn_params(net);
	for (int l = 0; l < nn_layers(net); l++) {
		int c, oc;
		nn_layer_shape(net, l, &c, &oc);
		float *b = p + nn_layer_offset(net, l) + (size_t)c * oc;
		for (int o = 0; o < oc; o++)
			b[o] = (float)(0.1 * util_rand_normal(&rng));
	}
	float x[32], y[8], w[8], dx[32] = { 0 };
	fill_normal(x, 32, &rng, 1.0);
	for (int b = 0; b < B; b++) {
		y[b] = (float)(b % 2);
		w[b] = (float)(0.5 + util_rand_uniform(&rng));
	}
	nn_forward(net, x, B);
	nn_zero_grad(net);
	nn_backward(net, x, y, w, B, l2, dx);
	size_t n = nn_num_params(net);
	float *g = malloc(sizeof(float) * n);
	memcpy(g, nn_grads(net), sizeof(float) * n);

	const float h = 1e-2f;
	double worst_all = 0;
	for (int l = 0; l < nn_layers(net); l++) {
		int c, oc;
		nn_layer_shape(net, l, &c, &oc);
		size_t off = nn_layer_offset(net, l);
		for (int t = 0; t < 2; t++) {	/* weight, then bias */
			size_t start = t ? off + (size_t)c * oc : off;
			size_t len = t ? (size_t)oc : (size_t)c * oc;
			double worst = 0;
			for (size_t i = start; i < start + len; i++) {
				float keep = p[i];
				p[i] = keep + h;
				double lp = net_loss(net, x, y, w, B, l2);
				p[i] = keep - h;
				double lm = net_loss(net, x, y, w, B, l2);
				p[i] = keep;
				double num = (lp - lm) / (2 * h);
				double rel = fabs(num - g[i]) /
					     fmax(fabs(num) + fabs(g[i]), 1e-3);
				if (rel > worst)
					worst = rel;
			}
			printf("  layer %d %s (%zu): largest relative error "
			       "%.2e\n", l, t ? "bias  " : "weight", len,
			       worst);
			CHECK_MSG(worst < 2e-3, "layer %d %s: %g", l,
				  t ? "bias" : "weight", worst);
			if (worst > worst_all)
				worst_all = worst;
		}
	}
	/* The input gradient too. */
	double worst = 0;
	for (int i = 0; i < B * C; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double lp = net_loss(net, x, y, w, B, l2);
		x[i] = keep - h;
		double lm = net_loss(net, x, y, w, B, l2);
		x[i] = keep;
		double num = (lp - lm) / (2 * h);
		double rel = fabs(num - dx[i]) /
			     fmax(fabs(num) + fabs(dx[i]), 1e-3);
		if (rel > worst)
			worst = rel;
	}
	printf("  input (%d): largest relative error %.2e\n", B * C, worst);
	printf("  largest over all parameter tensors: %.2e\n", worst_all);
	CHECK_MSG(worst < 2e-3, "input gradient: %g", worst);
	free(g);
	nn_free(net);
}

static void test_adam_by_hand(void)
{
	float p[2] = { 1.0f, -2.0f }, m[2] = { 0 }, v[2] = { 0 };
	float g1[2] = { 0.5f, -0.1f }, g2[2] = { 0.2f, 0.3f };
	nn_adam_update(p, g1, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 1);
	/* Step 1: m = 0.1 g, v = 0.001 g², bias-corrected to g and g², so
	 * each parameter moves by lr against the sign of its gradient. */
	CHECK_NEAR(m[0], 0.05, 1e-7);
	CHECK_NEAR(v[1], 1e-5, 1e-8);
	CHECK_NEAR(p[0], 0.9, 1e-6);
	CHECK_NEAR(p[1], -1.9, 1e-6);
	nn_adam_update(p, g2, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 2);
	/* Step 2, p[0]: m = 0.065, v = 0.00028975, m̂ = 0.065/0.19,
	 * v̂ = 0.00028975/0.001999, step 0.1·m̂/√v̂ = 0.0898575 */
	CHECK_NEAR(m[0], 0.065, 1e-7);
	CHECK_NEAR(v[0], 0.00028975, 1e-8);
	CHECK_NEAR(p[0], 0.8101425, 2e-6);
	/* p[1]: m = 0.021, v = 9.999e-5, step 0.0494190 */
	CHECK_NEAR(p[1], -1.9494190, 2e-6);
}

static void test_adam_step_uses_net_layout(void)
{
	int hidden[1] = { 3 };
	struct nn *net = nn_new(2, hidden, 1, 4);
	uint64_t rng = 3;
	nn_init(net, &rng);
	size_t n = nn_num_params(net);
	float *before = malloc(sizeof(float) * n);
	memcpy(before, nn_params(net), sizeof(float) * n);
	for (size_t i = 0; i < n; i++)
		nn_grads(net)[i] = (i % 3 == 0) ? 0.0f : (i % 2 ? 1.0f : -1.0f);
	nn_adam_step(net, 0.01f);
	CHECK_INT(nn_adam_t(net), 1);
	for (size_t i = 0; i < n; i++) {
		float g = nn_grads(net)[i];
		float want = before[i] - (g > 0 ? 0.01f : g < 0 ? -0.01f : 0);
		CHECK_NEAR(nn_params(net)[i], want, 1e-6);
	}
	free(before);
	nn_free(net);
}

/* Full-batch Adam on (x, y); returns accuracy on (tx, ty). */
static double train_and_test(const float *x, const float *y, int n,
			     const float *tx, const float *ty, int tn,
			     int steps, float lr)
{
	int hidden[2] = { 16, 16 };
	struct nn *net = nn_new(2, hidden, 2, n > tn ? n : tn);
	uint64_t rng = 5;
	nn_init(net, &rng);
	for (int s = 0; s < steps; s++) {
		nn_forward(net, x, n);
		nn_zero_grad(net);
		nn_backward(net, x, y, NULL, n, 1e-5f, NULL);
		nn_adam_step(net, lr);
	}
	const float *p = nn_forward(net, tx, tn);
	int ok = 0;
	for (int i = 0; i < tn; i++)
		ok += (p[i] >= 0.5f) == (ty[i] >= 0.5f);
	nn_free(net);
	return (double)ok / tn;
}

static void make_xor(float *x, float *y, int n, uint64_t *rng)
{
	for (int i = 0; i < n; i++) {
		int a = i & 1, b = (i >> 1) & 1;
		x[2 * i] = (float)(a + 0.12 * util_rand_normal(rng));
		x[2 * i + 1] = (float)(b + 0.12 * util_rand_normal(rng));
		y[i] = (float)(a ^ b);
	}
}

static void test_learns_xor(void)
{
	enum { N = 200 };
	float x[2 * N], y[N], tx[2 * N], ty[N];
	uint64_t rng = 11;
	make_xor(x, y, N, &rng);
	make_xor(tx, ty, N, &rng);
	double acc = train_and_test(x, y, N, tx, ty, N, 1500, 0.01f);
	printf("  XOR test accuracy %.1f%%\n", 100 * acc);
	CHECK_MSG(acc >= 0.95, "XOR accuracy %.3f", acc);
}

/* Two interleaved half circles as in scikit-learn's make_moons. */
static void make_moons(float *x, float *y, int n, double noise,
		       uint64_t *rng)
{
	for (int i = 0; i < n; i++) {
		double t = M_PI * util_rand_uniform(rng);
		int c = i & 1;
		double a = c ? 1 - cos(t) : cos(t);
		double b = c ? 0.5 - sin(t) : sin(t);
		x[2 * i] = (float)(a + noise * util_rand_normal(rng));
		x[2 * i + 1] = (float)(b + noise * util_rand_normal(rng));
		y[i] = (float)c;
	}
}

static void test_learns_moons(void)
{
	enum { N = 400 };
	float x[2 * N], y[N], tx[2 * N], ty[N];
	uint64_t rng = 12;
	make_moons(x, y, N, 0.1, &rng);
	make_moons(tx, ty, N, 0.1, &rng);
	double acc = train_and_test(x, y, N, tx, ty, N, 1500, 0.01f);
	printf("  moons test accuracy %.1f%%\n", 100 * acc);
	CHECK_MSG(acc >= 0.95, "moons accuracy %.3f", acc);
}

static void test_layout(void)
{
	int hidden[2] = { 64, 32 };
	struct nn *net = nn_new(60, hidden, 2, 16);
	CHECK_INT(nn_layers(net), 3);
	CHECK_INT(nn_num_params(net), 60 * 64 + 64 + 64 * 32 + 32 + 32 + 1);
	CHECK_INT(nn_layer_offset(net, 1), 60 * 64 + 64);
	CHECK(nn_grads(net) == nn_params(net) + nn_num_params(net));
	CHECK(nn_adam_m(net) == nn_grads(net) + nn_num_params(net));
	CHECK(nn_adam_v(net) == nn_adam_m(net) + nn_num_params(net));
	nn_free(net);
	nn_free(NULL);
}

/* Largest difference between a and b (n), relative to 1 + |b|. */
static double worst_diff(const float *a, const float *b, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
		worst = e > worst ? e : worst;
	}
	return worst;
}

/* One binned net of C inputs, T bins, hidden layers hidden (nh) against a
 * plain net fed nn_bins_encode()'s columns, on B rows: their outputs,
 * every parameter gradient and (chained through the encoding) the input
 * gradient, with inputs on bin edges, at 0, at 1, outside [0, 1] and NaN.
 * Returns false when they differ. */
static bool binned_equals_encoded_dense(int C, int T, const int *hidden,
					int nh, int B, uint64_t seed)
{
	struct nn *bn = nn_new_binned(C, T, hidden, nh, B);
	struct nn *dn = nn_new(C * T, hidden, nh, B);
	size_t n = (size_t)B * C;
	float *x = malloc(sizeof(float) * n), *xc = malloc(sizeof(float) * n);
	float *enc = malloc(sizeof(float) * n * T);
	float *dxb = calloc(n, sizeof(float));
	float *dxd = calloc(n * T, sizeof(float));
	float *y = malloc(sizeof(float) * B);
	float *probs = malloc(sizeof(float) * B);
	if (!CHECK(bn && dn && x && xc && enc && dxb && dxd && y && probs))
		return false;
	CHECK_INT(nn_bins(bn), T);
	CHECK_INT(nn_num_params(bn), nn_num_params(dn));
	int c0, oc0;
	nn_layer_shape(bn, 0, &c0, &oc0);
	CHECK_INT(c0, C * T);
	uint64_t rng = seed;
	nn_init(bn, &rng);
	/* Non-zero first-layer biases: the table carries them. */
	float *pb = nn_params(bn);
	for (int o = 0; o < oc0; o++)
		pb[(size_t)oc0 * C * T + o] = (float)util_rand_normal(&rng);
	memcpy(nn_params(dn), nn_params(bn),
	       sizeof(float) * nn_num_params(bn));
	for (size_t i = 0; i < n; i++)
		x[i] = (float)util_rand_uniform(&rng);
	float edge[] = { 0.0f, 1.0f, 0.5f, 0.25f, -2.0f, 3.0f, NAN, 0.75f,
			 1.0f / T, 1.0f - 1e-7f, -0.0f };
	for (size_t i = 0; i < sizeof edge / sizeof *edge && i < n; i++)
		x[i * 7 % n] = edge[i];
	for (int b = 0; b < B; b++)
		y[b] = (float)(b % 2);
	/* what the layer reads: clamped, NaN as 0 */
	for (size_t i = 0; i < n; i++)
		xc[i] = x[i] > 1.0f ? 1.0f : x[i] > 0.0f ? x[i] : 0.0f;
	nn_bins_encode(enc, xc, B, C, T);
	memcpy(probs, nn_forward(bn, x, B), sizeof(float) * B);
	const float *pd = nn_forward(dn, enc, B);
	double e_out = worst_diff(probs, pd, B);
	nn_zero_grad(bn);
	nn_zero_grad(dn);
	nn_forward(bn, x, B);
	nn_backward(bn, x, y, NULL, B, 0.01f, dxb);
	nn_forward(dn, enc, B);
	nn_backward(dn, enc, y, NULL, B, 0.01f, dxd);
	double e_grad = worst_diff(nn_grads(bn), nn_grads(dn),
				   nn_num_params(bn));
	/* d loss / d x = Σ_t d loss / d enc_t · T inside the bin holding x
	 * (0 where the input is clamped). */
	double e_dx = 0;
	for (size_t i = 0; i < n; i++) {
		float u = x[i];
		double want = 0;
		if (u >= 0.0f && u < 1.0f)
			want = T * dxd[i * T + (int)(u * T)];
		double e = fabs(dxb[i] - want);
		e_dx = e > e_dx ? e : e_dx;
	}
	bool ok = CHECK_MSG(e_out < 1e-6 && e_grad < 1e-6 && e_dx < 1e-6,
			    "%d inputs, %d bins, %d rows: outputs differ by "
			    "%g, parameter gradients by %g, input gradients "
			    "by %g", C, T, B, e_out, e_grad, e_dx);
	nn_free(bn);
	nn_free(dn);
	free(x), free(xc), free(enc), free(dxb), free(dxd), free(y);
	free(probs);
	return ok;
}

/* The binned first layer is a dense layer over the encoded inputs, in
 * every build of its loops, for widths that fill vectors exactly, leave a
 * tail, span several blocks of outputs, or are a single unit, and batches
 * of one or several blocks of rows. */
static void test_binned_layer_equals_encoded_dense(void)
{
	static const struct {
		int C, T, nh, hidden[2], B;
	} cases[] = {
		{ 5, 4, 2, { 7, 3 }, 9 },
		{ 60, 8, 2, { 64, 32 }, 64 },
		{ 13, 8, 2, { 70, 5 }, 150 },	/* 64 + 6 outputs */
		{ 3, 2, 1, { 1 }, 200 },
		{ 4, 64, 0, { 0 }, 7 },		/* no hidden layer */
	};
	enum nn_kernel best = nn_kernel_best();
	for (int k = NN_KERNEL_PLAIN; k <= (int)best; k++) {
		CHECK(nn_set_kernel((enum nn_kernel)k));
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
			if (!binned_equals_encoded_dense(
				    cases[i].C, cases[i].T, cases[i].hidden,
				    cases[i].nh, cases[i].B, 5 + i))
				printf("  (kernel %d)\n", k);
	}
	CHECK(!nn_set_kernel((enum nn_kernel)(best + 1)));
	nn_set_kernel(best);
}

/* The builds of the binned layer's loops and of Adam do the same
 * arithmetic: the same outputs, gradients and steps to the bit. */
static void test_binned_kernels_agree(void)
{
	enum { B = 300, C = 11, T = 8 };
	int hidden[2] = { 37, 9 };
	enum nn_kernel best = nn_kernel_best();
	struct nn *net = nn_new_binned(C, T, hidden, 2, B);
	float *x = malloc(sizeof(float) * B * C), y[B];
	float *dx = malloc(sizeof(float) * B * C);
	float *ref = NULL;	/* probs, dx, grads, params of the plain run */
	if (!CHECK(net && x && dx))
		return;
	size_t np = nn_num_params(net), nr = B + (size_t)B * C + 2 * np;
	float *got = malloc(sizeof(float) * nr);
	ref = malloc(sizeof(float) * nr);
	uint64_t rng = 9;
	for (int i = 0; i < B * C; i++)
		x[i] = (float)(1.2 * util_rand_uniform(&rng) - 0.1);
	for (int b = 0; b < B; b++)
		y[b] = (float)(b % 3 == 0);
	for (int k = NN_KERNEL_PLAIN; k <= (int)best; k++) {
		nn_set_kernel((enum nn_kernel)k);
		uint64_t seed = 3;
		nn_init(net, &seed);
		for (int s = 0; s < 3; s++) {	/* Adam's moments too */
			nn_forward(net, x, B);
			nn_zero_grad(net);
			nn_backward(net, x, y, NULL, B, 0.001f, NULL);
			nn_adam_step(net, 0.01f);
		}
		memcpy(got, nn_forward(net, x, B), sizeof(float) * B);
		nn_zero_grad(net);
		memset(dx, 0, sizeof(float) * B * C);
		nn_backward(net, x, y, NULL, B, 0.001f, dx);
		memcpy(got + B, dx, sizeof(float) * B * C);
		memcpy(got + B + B * C, nn_grads(net), sizeof(float) * np);
		nn_adam_step(net, 0.01f);
		memcpy(got + B + B * C + np, nn_params(net),
		       sizeof(float) * np);
		if (k == NN_KERNEL_PLAIN) {
			memcpy(ref, got, sizeof(float) * nr);
			continue;
		}
		CHECK_MSG(memcmp(got, ref, sizeof(float) * nr) == 0,
			  "kernel %d differs from the plain one: outputs by "
			  "%g, input gradients by %g, gradients by %g, "
			  "parameters after Adam by %g", k,
			  worst_diff(got, ref, B),
			  worst_diff(got + B, ref + B, (size_t)B * C),
			  worst_diff(got + B + B * C, ref + B + B * C, np),
			  worst_diff(got + B + B * C + np,
				     ref + B + B * C + np, np));
	}
	nn_set_kernel(best);
	nn_free(net);
	free(x), free(dx), free(got), free(ref);
}

/* The table of the binned layer follows its parameters: written through
 * nn_params(), changed by Adam or copied in, the next forward reads the
 * new ones. */
static void test_binned_table_follows_parameters(void)
{
	enum { B = 4, C = 3, T = 4 };
	int hidden[1] = { 6 };
	struct nn *a = nn_new_binned(C, T, hidden, 1, B);
	struct nn *b = nn_new_binned(C, T, hidden, 1, B);
	if (!CHECK(a && b))
		return;
	uint64_t r1 = 1, r2 = 2;
	nn_init(a, &r1);
	nn_init(b, &r2);
	float x[B * C], y[B] = { 1, 0, 1, 0 }, p[B];
	for (int i = 0; i < B * C; i++)
		x[i] = (float)util_rand_uniform(&r1);
	memcpy(p, nn_forward(a, x, B), sizeof p);
	nn_params(a)[0] += 5.0f;	/* a first-layer weight */
	CHECK(memcmp(p, nn_forward(a, x, B), sizeof p) != 0);
	nn_params(a)[0] -= 5.0f;
	const float *q = nn_forward(a, x, B);
	for (int i = 0; i < B; i++)
		CHECK_NEAR(q[i], p[i], 0);
	nn_zero_grad(a);
	nn_backward(a, x, y, NULL, B, 0.0f, NULL);
	nn_adam_step(a, 0.1f);
	CHECK(memcmp(p, nn_forward(a, x, B), sizeof p) != 0);
	nn_forward(b, x, B);
	nn_copy_state(b, a);
	float pa[B];
	memcpy(pa, nn_forward(a, x, B), sizeof pa);
	const float *pb = nn_forward(b, x, B);
	for (int i = 0; i < B; i++)
		CHECK_NEAR(pb[i], pa[i], 0);
	nn_free(a);
	nn_free(b);
}

/* Nets of an ensemble share their scratch: run one after the other, each
 * gets the outputs and gradients it gets alone, plain or binned. */
static void test_shared_scratch(void)
{
	enum { B = 6, C = 4, T = 3 };
	int hidden[1] = { 5 };
	for (int bins = 1; bins <= T; bins += T - 1) {
		struct nn *a = nn_new_binned(C, bins, hidden, 1, B);
		struct nn *b = a ? nn_new_sharing(a) : NULL;
		struct nn *alone = nn_new_binned(C, bins, hidden, 1, B);
		if (!CHECK(a && b && alone))
			return;
		CHECK_INT(nn_bins(b), bins);
		CHECK_INT(nn_num_params(b), nn_num_params(a));
		CHECK_INT(nn_max_batch(b), B);
		uint64_t r1 = 1, r2 = 2, r3 = 2;
		nn_init(a, &r1);
		nn_init(b, &r2);
		nn_init(alone, &r3);	/* b's twin with its own scratch */
		float x[B * C], x2[B * C], y[B];
		for (int i = 0; i < B * C; i++)
			x[i] = (float)util_rand_uniform(&r1), x2[i] = 1 - x[i];
		for (int i = 0; i < B; i++)
			y[i] = (float)(i % 2);
		nn_forward(a, x2, B);	/* a's forward, then b's pass */
		nn_zero_grad(b);
		const float *pb = nn_forward(b, x, B);
		float probs[B];
		memcpy(probs, pb, sizeof probs);
		nn_backward(b, x, y, NULL, B, 0.0f, NULL);
		nn_zero_grad(alone);
		const float *pa = nn_forward(alone, x, B);
		nn_backward(alone, x, y, NULL, B, 0.0f, NULL);
		for (int i = 0; i < B; i++)
			CHECK_NEAR(probs[i], pa[i], 0);
		CHECK(memcmp(nn_grads(b), nn_grads(alone),
			     sizeof(float) * nn_num_params(b)) == 0);
		nn_free(a);	/* the owner first: b never touches it */
		nn_free(b);
		nn_free(alone);
	}
}

/* Denormals are flushed while the model computes, and only then. */
static void test_fp_fast_flushes_denormals(void)
{
	volatile float a = 1e-30f, b = 1e-10f;
	float before = a * b;
	CHECK_MSG(before != 0.0f, "1e-40 is a denormal, not 0");
	unsigned mode = nn_fp_fast();
	float during = a * b;
	nn_fp_restore(mode);
	float after = a * b;
#if defined(__SSE__)
	CHECK_MSG(during == 0.0f, "flushed: %g", (double)during);
#else
	(void)during;
#endif
	CHECK_MSG(after == before, "mode restored: %g", (double)after);
}

int main(void)
{
	/* On the OpenBLAS kernel the daemon runs (daemon/blas.h). */
	blas_tune("train");
	RUN(test_layout);
	RUN(test_blas_forward_equals_naive);
	RUN(test_matmul_backward_adds);
	RUN(test_sigmoid_bce);
	RUN(test_gradient_check);
	RUN(test_binned_layer_equals_encoded_dense);
	RUN(test_binned_kernels_agree);
	RUN(test_binned_table_follows_parameters);
	RUN(test_shared_scratch);
	RUN(test_adam_by_hand);
	RUN(test_adam_step_uses_net_layout);
	RUN(test_learns_xor);
	RUN(test_learns_moons);
	RUN(test_fp_fast_flushes_denormals);
	return harness_finish();
}
