/* rules_model.h: the word model, a naive Bayes count table learned from
 * labelled tuning messages (`bartctl rules learn`) that the rule engine
 * consults beside the rules: it picks the category when the words say so
 * much more strongly than the rules, and catches reports in words no rule
 * has yet.
 *
 * Features of a normalised message: its words, each pair of neighbouring
 * words ("auto inbraak"), and the last 4, 5 and 6 bytes of words of 7
 * bytes or more ("*braak", the ends of Dutch compounds). Each counts once a
 * message. The model file keeps, per feature, how many tuning messages of
 * each class held it; the weights are computed when it is loaded. */
#ifndef BART_RULES_MODEL_H
#define BART_RULES_MODEL_H

#include <stddef.h>
#include <stdio.h>

#include "normalise.h"
#include "util.h"

/* The classes: the categories of bart_categories in order, then "geen"
 * (no desk; a message labelled info counts as geen: it is not forwarded). */
#define WM_NCAT		11
#define WM_GEEN		WM_NCAT
#define WM_NCLASS	(WM_NCAT + 1)

/* Limits on a model file (it is configuration, but never trusted). */
#define WM_MAX_FEATURES	500000
#define WM_MAX_FEATLEN	200
#define WM_MAX_FILE	(64 * 1024 * 1024)
/* Words of a message that are looked at. */
#define WM_MAX_WORDS	2000

struct wordmodel;

/* Loads a model file; problems go to d as file:line:col. NULL on error. */
struct wordmodel *wordmodel_load(const char *path, struct diag *d);
void wordmodel_free(struct wordmodel *m);
size_t wordmodel_features(const struct wordmodel *m);
/* Number of tuning messages it was learned from. */
unsigned long wordmodel_messages(const struct wordmodel *m);

/* Log-odds score of every class for a normalised message (out has
 * WM_NCLASS entries; higher is more likely). */
void wordmodel_score(const struct wordmodel *m, const struct normtext *nt,
    double *out);

/* The features of nt that speak most for class cls against class other
 * (weight difference), best first: up to max of them, as byte ranges of
 * nt->text. Returns how many. */
size_t wordmodel_top(const struct wordmodel *m, const struct normtext *nt,
    int cls, int other, size_t *start, size_t *end, double *gain, size_t max);

/* Learning: counts the features of labelled messages. */
struct wm_learner;

struct wm_learner *wm_learner_new(void);
void wm_learner_free(struct wm_learner *l);
/* Adds one normalised message of class cls (0..WM_NCLASS-1). */
void wm_learner_add(struct wm_learner *l, const struct normtext *nt, int cls);
/* Writes the model: every feature seen in at least min_count messages.
 * 0, or -1 on a write error. */
int wm_learner_write(const struct wm_learner *l, FILE *fp, unsigned min_count,
    const char *comment);

#endif
