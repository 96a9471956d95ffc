/* Design-space search: simulate every configuration of the spec, then the Pareto front of cost
 * against p99 latency and the cheapest configuration that meets the SLO. */
#include "plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "cost/cost.h"

/* Why: one candidate is simulated and then analysed by the same analyzer that reads live runs,
 * through an in-memory results store, so plan's numbers mean what the report's numbers mean. */
static int evaluate(const plan_spec *s, const plan_run *r, double scale, double slo_ms,
                    const cost_catalog *cat, plan_point *pt, fm_err *err)
{
    sim_function f;
    int rc = plan_sim_function(s, r, scale, &f, err);
    if (rc)
        return rc;
    store *db;
    if ((rc = store_open(":memory:", &db, err)))
        return rc;
    char *cfg = plan_run_config_json(s, r);
    sim_opts o = plan_sim_opts(s, r, db, cfg);
    o.series_step_ns = 10000000000LL;
    sim_result res;
    rc = sim_run(&f, 1, &o, &res, err);
    int64_t run_id = res.run_id;
    sim_result_release(&res);
    free(cfg);
    an_run *ar = NULL;
    if (!rc) {
        an_opts ao = {.slo_ms = slo_ms, .prices = cat, .snapshot = s->snapshot};
        rc = analyze_run(db, run_id, &ao, &ar, err);
    }
    if (!rc) {
        *pt = (plan_point){.run = r};
        const an_metrics *m = &ar->total;
        pt->p50_ms = m->latency_q[AN_P50].est.why ? INFINITY : m->latency_q[AN_P50].est.v;
        pt->p99_ms = m->latency_q[AN_P99].est.why ? INFINITY : m->latency_q[AN_P99].est.v;
        pt->success_ratio = m->success_ratio.est.why ? 0 : m->success_ratio.est.v;
        if (ar->has_own && ar->own.priced) {
            pt->priced = true;
            pt->cost_usd = ar->own.total;
            pt->cost_per_1m = ar->own.has_per_1m ? ar->own.per_1m : INFINITY;
        }
        pt->meets_slo = pt->p99_ms <= slo_ms && pt->success_ratio >= s->success_target;
        pt->meets_accuracy = plan_accuracy_meets(s, r, &pt->acc, &pt->has_accuracy);
    }
    analyze_run_free(ar);
    store_close(db);
    if (rc)
        fm_err_prefix(err, "run '%s': ", r->name);
    return rc;
}

bool plan_accuracy_meets(const plan_spec *s, const plan_run *r, sim_accuracy *acc, bool *known)
{
    sim_accuracy a = {.cosine_min = 1, .cosine_mean = 1, .top1 = 1, .top5 = 1};
    bool have = strcmp(r->precision, "fp32") == 0; /* the reference itself */
    if (!have && s->calib) {
        sim_key k = {r->model->name, r->runtime, r->platform->device, r->precision};
        have = sim_calib_accuracy(s->calib, &k, &a) == 0;
    }
    if (acc)
        *acc = a;
    if (known)
        *known = have;
    const plan_accuracy *f = &s->accuracy;
    if (!f->set)
        return true;
    /* an accuracy not measured is not assumed: it meets no floor */
    return have && (f->min_cosine < -1 || a.cosine_min >= f->min_cosine) &&
           (f->min_top1 < 0 || a.top1 >= f->min_top1) &&
           (f->max_rel_err < 0 || a.max_rel_err <= f->max_rel_err);
}

static bool dominates(const plan_point *a, const plan_point *b)
{
    return a->priced && a->meets_accuracy && a->cost_per_1m <= b->cost_per_1m &&
           a->p99_ms <= b->p99_ms && (a->cost_per_1m < b->cost_per_1m || a->p99_ms < b->p99_ms);
}

int plan_search(const plan_spec *s, const plan_search_opts *o, plan_result *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    out->best = -1;
    plan_run *all;
    size_t n;
    int rc = plan_matrix(s, &all, &n, err);
    if (rc)
        return rc;
    /* the candidates are the matrix's simulated cells */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i].mode == PLAN_SIM)
            all[k++] = all[i];
    if (k == 0) {
        free(all);
        return fm_err_set(err, FM_EINVAL,
                          "experiment '%s' has no simulated configuration to search", s->name);
    }
    out->runs = all;
    out->n = k;
    out->points = calloc(k, sizeof *out->points);
    if (!out->points)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    cost_catalog *cat = NULL;
    const char *prices = o->prices ? o->prices : s->prices;
    if ((rc = cost_catalog_load(prices, &cat, err)))
        return rc;
    double slo = o->slo_ms > 0 ? o->slo_ms : s->slo_ms;
    double scale = o->scale > 0 ? o->scale : s->sim_scale;
    for (size_t i = 0; i < k && !rc; i++) {
        rc = evaluate(s, &out->runs[i], scale, slo, cat, &out->points[i], err);
        if (!rc && o->progress)
            rc = o->progress(i + 1, k, &out->points[i], o->ud);
    }
    cost_catalog_free(cat);
    if (rc)
        return rc;
    for (size_t i = 0; i < k; i++) {
        plan_point *p = &out->points[i];
        p->pareto = p->priced && p->meets_accuracy && isfinite(p->p99_ms);
        for (size_t j = 0; j < k && p->pareto; j++)
            if (j != i && dominates(&out->points[j], p))
                p->pareto = false;
        if (p->meets_slo && p->meets_accuracy && p->priced) {
            const plan_point *b = out->best >= 0 ? &out->points[out->best] : NULL;
            if (!b || p->cost_per_1m < b->cost_per_1m ||
                (p->cost_per_1m == b->cost_per_1m && p->p99_ms < b->p99_ms))
                out->best = (int)i;
        }
    }
    return 0;
}

void plan_result_release(plan_result *r)
{
    free(r->runs);
    free(r->points);
    memset(r, 0, sizeof *r);
    r->best = -1;
}
