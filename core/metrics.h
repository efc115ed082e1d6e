/* Classification metrics for probabilities against 0/1 labels, shared by
 * the model's training report and the offline evaluation. */
#ifndef MPDREC_METRICS_H
#define MPDREC_METRICS_H

/** Share of p (n) on the right side of 0.5 for labels y (n); NaN if n < 1. */
double metrics_accuracy(const float *p, const float *y, int n);

/** Area under the ROC curve (Mann–Whitney, ties count half); NaN when
 *  one class is missing or memory runs out. */
double metrics_auc(const float *p, const float *y, int n);

/** Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7];
 *  NaN if n < 1. */
double metrics_logloss(const float *p, const float *y, int n);

#endif
