/* run_sample.c - choosing the next token: greedy (argmax, lowest id on ties) or temperature
 * sampling restricted to the top-k candidates and the top-p probability mass, driven by a
 * seeded splitmix64 so a seed always gives the same tokens. */
#include <math.h>
#include <stdlib.h>

#include "run.h"

void run_sampler_init(run_sampler *s, float temp, uint32_t top_k, float top_p, uint64_t seed)
{
    s->temp = temp;
    s->top_k = top_k;
    s->top_p = top_p;
    s->state = seed;
}

static uint64_t next_u64(run_sampler *s)
{
    uint64_t z = (s->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

typedef struct cand { float logit; uint32_t id; } cand;

static int cmp_cand(const void *a, const void *b)
{
    cand const *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

uint32_t run_sample(run_sampler *s, const float *logits, uint32_t n)
{
    if (n == 0) return 0;
    if (!(s->temp > 0)) return argmax(logits, n);
    cand *c = malloc(sizeof *c * n);
    if (!c) return argmax(logits, n);
    for (uint32_t i = 0; i < n; i++) c[i] = (cand){logits[i] == logits[i] ? logits[i] : -INFINITY, i};
    qsort(c, n, sizeof *c, cmp_cand);
    uint32_t k = s->top_k && s->top_k < n ? s->top_k : n;
    /* softmax over the k best at temperature temp */
    double sum = 0;
    double *p = malloc(sizeof *p * k);
    if (!p) {
        uint32_t const id = c[0].id;
        free(c);
        return id;
    }
    for (uint32_t i = 0; i < k; i++) {
        p[i] = exp(((double)c[i].logit - (double)c[0].logit) / (double)s->temp);
        sum += p[i];
    }
    /* top-p: the smallest prefix whose mass reaches top_p */
    if (s->top_p > 0 && s->top_p < 1) {
        double acc = 0;
        uint32_t keep = 0;
        while (keep < k) {
            acc += p[keep] / sum;
            keep++;
            if (acc >= s->top_p) break;
        }
        k = keep;
        sum = 0;
        for (uint32_t i = 0; i < k; i++) sum += p[i];
    }
    double const r = (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0) * sum;
    double acc = 0;
    uint32_t id = c[k - 1].id;
    for (uint32_t i = 0; i < k; i++) {
        acc += p[i];
        if (r < acc) {
            id = c[i].id;
            break;
        }
    }
    free(p);
    free(c);
    return id;
}
