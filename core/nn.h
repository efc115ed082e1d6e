/* A small dense net for binary classification, after karpathy/llm.c:
 * dense layers with ReLU, a sigmoid output trained with weighted binary
 * cross-entropy plus L2 on the weights, and Adam.
 *
 * The first layer may be "binned" (piecewise-linear encoding, Gorishniy et
 * al. 2022, "On Embeddings for Numerical Features in Tabular Deep
 * Learning"): each input u in [0, 1] is read as T bins, bin t holding
 * clamp(u·T - t, 0, 1), so the layer learns a piecewise-linear function of
 * every input instead of a single slope. It is a dense layer over the
 * C·T encoded inputs, computed without materialising them: one bin per
 * input is partly full, those below it are full, so with the prefix sums
 * P and slopes S of each input's weights (a table each net rebuilds when
 * its parameters change) an input adds P[t0] + f·S[t0], two rows read
 * where the encoded dense layer would multiply T. Backward sorts a
 * batch's rows by bin per input. The loops come in builds (plain C,
 * vectors, AVX2 chosen at run time) that compute the same to the bit.
 * With T = 1 it is the plain dense layer.
 *
 * Every layer is a forward/backward pair; backward functions ADD into their
 * gradients (+=), so gradients are zeroed once per step. All parameters live
 * in one allocation; the gradients and Adam's two moments have the same
 * layout, so the update is one loop over one array. Layer l of L has a
 * weight matrix W_l (OC, C) followed by its bias b_l (OC), in layer order.
 * Matrix products are cblas_sgemm calls on the whole batch; a naive
 * reference stays beside them for the tests.
 */
#ifndef MPDREC_NN_H
#define MPDREC_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_HIDDEN 4

/* ---- layers (public so the tests can check them one by one) ---- */

/** out (B, OC) = inp (B, C) · weight (OC, C)ᵀ + bias (OC), one cblas_sgemm.
 *  bias may be NULL. */
void nn_matmul_forward(float *out, const float *inp, const float *weight,
		       const float *bias, int B, int C, int OC);

/** The same product with three plain loops: the reference for the tests. */
void nn_matmul_forward_naive(float *out, const float *inp,
			     const float *weight, const float *bias,
			     int B, int C, int OC);

/** Backward of nn_matmul_forward, adding into the gradients:
 *  dinp (B, C) += dout (B, OC) · weight (OC, C)       (skipped when NULL)
 *  dweight (OC, C) += dout (B, OC)ᵀ · inp (B, C)
 *  dbias (OC) += Σ_b dout (B, OC)                      (skipped when NULL) */
void nn_matmul_backward(float *dinp, float *dweight, float *dbias,
			const float *dout, const float *inp,
			const float *weight, int B, int C, int OC);

/** out (N) = max(inp (N), 0). out may equal inp. */
void nn_relu_forward(float *out, const float *inp, size_t N);

/** dinp (N) += dout (N) where out (N) > 0. */
void nn_relu_backward(float *dinp, const float *out, const float *dout,
		      size_t N);

/** prob (B) = σ(logit (B)); returns the mean weighted cross-entropy
 *  Σ_b w_b · bce(prob_b, y_b) / B, computed stably from the logits.
 *  w may be NULL (all 1). */
double nn_sigmoid_bce_forward(float *prob, const float *logit, const float *y,
			      const float *w, int B);

/** Joint backward of sigmoid and cross-entropy:
 *  dlogit (B) += (prob - y) · w / B. w may be NULL (all 1). */
void nn_sigmoid_bce_backward(float *dlogit, const float *prob, const float *y,
			     const float *w, int B);

/** One Adam step (β1, β2, ε as given; t counts steps from 1) over n
 *  parameters that share one layout with their gradients and moments:
 *  m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²;
 *  param -= lr · (m / (1-β1ᵗ)) / (√(v / (1-β2ᵗ)) + ε). */
void nn_adam_update(float *param, const float *grad, float *m, float *v,
		    size_t n, float lr, float beta1, float beta2, float eps,
		    int t);

/* ---- the net ---- */

/** A net: n_in inputs, n_hidden ReLU layers, one sigmoid output. */
struct nn;

/** Creates a net with zeroed parameters (see nn_init) whose forward and
 *  backward take batches of up to max_batch rows. Returns NULL when out of
 *  memory. Caller frees with nn_free(). */
struct nn *nn_new(int n_in, const int *hidden, int n_hidden, int max_batch);

/** The same with a binned first layer of `bins` bins per input (1 = plain
 *  dense): layer 0 then has C = n_in·bins inputs, W_0 (OC, n_in·bins) with
 *  input j's bins at j·bins .. j·bins + bins - 1 (bins ≤ 255). Inputs are
 *  read in [0, 1] (clamped). Caller frees with nn_free(). */
struct nn *nn_new_binned(int n_in, int bins, const int *hidden, int n_hidden,
			 int max_batch);

/** A net of owner's shape (zeroed parameters, see nn_init) that uses
 *  owner's scratch (activations, their gradients, the binned layer's)
 *  instead of its own: the members of an ensemble, run one after the
 *  other, need one. Then a forward of one of them must not come between a
 *  forward and the backward (or nn_logits, nn_loss) of another, and
 *  nn_forward's probabilities last until the next forward of any of them.
 *  owner must not be such a net itself, and must be freed after the last
 *  use of the new net (nn_free of either never touches the other's).
 *  Returns NULL when out of memory. Caller frees with nn_free(). */
struct nn *nn_new_sharing(const struct nn *owner);

/** Bins per input of the first layer (1 for a plain net). */
int nn_bins(const struct nn *net);

/** The encoded inputs of the binned layer, the naive reference:
 *  enc (B, C·bins)[b][j·bins + t] = clamp(x[b][j]·bins - t, 0, 1). */
void nn_bins_encode(float *enc, const float *x, int B, int C, int bins);

/** The builds of the binned layer's loops and of Adam, each computing the
 *  same to the bit: plain C (the reference), vectors of the baseline
 *  instruction set, AVX2. */
enum nn_kernel { NN_KERNEL_PLAIN, NN_KERNEL_VECTOR, NN_KERNEL_AVX2 };

/** The best build this compiler and CPU run (the one nets use unless
 *  nn_set_kernel() says otherwise). */
enum nn_kernel nn_kernel_best(void);

/** Makes every net of the process run build k, for the tests and benches
 *  that compare them. Returns false (nothing changed) when k is beyond
 *  nn_kernel_best(). Not thread-safe: call while no net runs. */
bool nn_set_kernel(enum nn_kernel k);

/** Frees a net; accepts NULL. */
void nn_free(struct nn *net);

/** Copies parameters, moments and step count of src into dst, which must
 *  have the same shape. */
void nn_copy_state(struct nn *dst, const struct nn *src);

/** Number of layers (hidden + output). */
int nn_layers(const struct nn *net);

/** Inputs C and outputs OC of layer l. */
void nn_layer_shape(const struct nn *net, int l, int *C, int *OC);

/** Offset of W_l in the parameter array (b_l follows at + OC·C). */
size_t nn_layer_offset(const struct nn *net, int l);

/** The largest batch forward/backward accept. */
int nn_max_batch(const struct nn *net);

/** Number of floats in the parameter array. */
size_t nn_num_params(const struct nn *net);

/** Parameters, gradients and Adam moments: borrowed arrays of
 *  nn_num_params() floats in one layout, valid until nn_free(). The
 *  binned layer keeps a table built from the parameters, rebuilt by the
 *  first forward after nn_params() (or nn_init, nn_copy_state,
 *  nn_adam_step): write parameters through a pointer from nn_params()
 *  called since the last forward. */
float *nn_params(struct nn *net);
float *nn_grads(struct nn *net);
float *nn_adam_m(struct nn *net);
float *nn_adam_v(struct nn *net);
const float *nn_params_const(const struct nn *net);
const float *nn_adam_m_const(const struct nn *net);
const float *nn_adam_v_const(const struct nn *net);

/** Adam steps taken so far (t of the last update); settable for loading. */
int nn_adam_t(const struct nn *net);
void nn_set_adam_t(struct nn *net, int t);

/** He-normal weights, zero biases, zero moments, t = 0, drawing from the
 *  generator state *rng (advanced). */
void nn_init(struct nn *net, uint64_t *rng);

/** Forward pass of B ≤ max_batch rows of x (B, n_in); keeps what backward
 *  needs. Returns the probabilities (B), borrowed until the next forward. */
const float *nn_forward(struct nn *net, const float *x, int B);

/** The logits (B) of the last forward, borrowed. */
const float *nn_logits(const struct nn *net);

/** Loss of the last forward against y (B) with weights w (B, NULL = 1):
 *  mean weighted cross-entropy plus l2/2 · Σ W² over weight matrices. */
double nn_loss(const struct nn *net, const float *y, const float *w, int B,
	       float l2);

/** Sets all gradients to zero. */
void nn_zero_grad(struct nn *net);

/** Backward of the last forward (x the same rows), adding the gradients of
 *  nn_loss() into nn_grads(). When dx (B, n_in) is not NULL, the gradient
 *  of the loss with respect to x is added into it. */
void nn_backward(struct nn *net, const float *x, const float *y,
		 const float *w, int B, float l2, float *dx);

/** Gradient of the output probabilities of the last forward with respect
 *  to its inputs, each row scaled by scale: dx (B, n_in) += scale · ∂p_b/∂x_b.
 *  Clobbers the parameter gradients. */
void nn_input_gradient(struct nn *net, const float *x, int B, float scale,
		       float *dx);

/** One Adam step over all parameters with the current gradients
 *  (β1 0.9, β2 0.999, ε 1e-8). */
void nn_adam_step(struct nn *net, float lr);

/* ---- floating-point mode ---- */

/** Makes this thread flush denormal floats to zero (x86 FTZ and DAZ).
 *  Weights and moments that decay towards zero turn denormal after some
 *  epochs, and every product that touches one then runs many times
 *  slower (a 10,000-event retrain: 5.6 s instead of 1.2 s). Values that
 *  small change no score. Returns the previous mode, for
 *  nn_fp_restore(); a no-op elsewhere. */
unsigned nn_fp_fast(void);

/** Restores the mode nn_fp_fast() returned. */
void nn_fp_restore(unsigned mode);

#endif
