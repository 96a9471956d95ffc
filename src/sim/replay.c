/* Replaying a recorded run's arrival schedule. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

typedef struct sched {
    const char *function;
    int64_t *v;
    size_t n, cap;
    int rc;
} sched;

static int collect(const store_request *r, void *ud)
{
    sched *s = ud;
    if (s->function && (!r->function || strcmp(r->function, s->function) != 0))
        return 0;
    if (r->scheduled_ns <= 0)
        return 0;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        int64_t *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return s->rc = FM_ENOMEM;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = r->scheduled_ns;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int sim_schedule_from_run(store *db, int64_t run_id, const char *function, int64_t **out, size_t *n,
                          fm_err *err)
{
    sched s = {.function = function};
    int rc = store_requests_each(db, run_id, collect, &s, err);
    if (!rc && s.rc)
        rc = fm_err_set(err, s.rc, "out of memory");
    if (!rc && s.n == 0)
        rc = fm_err_set(err, FM_ENOTFOUND, "run %lld recorded no request%s%s%s", (long long)run_id,
                        function ? " of function '" : "", function ? function : "",
                        function ? "'" : "");
    if (rc) {
        free(s.v);
        return rc;
    }
    qsort(s.v, s.n, sizeof *s.v, cmp);
    int64_t t0 = s.v[0];
    for (size_t i = 0; i < s.n; i++)
        s.v[i] -= t0;
    *out = s.v;
    *n = s.n;
    return 0;
}
