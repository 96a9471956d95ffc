/* analyze — private: the rows of one run as read from the store, shared by metrics.c. */
#ifndef FM_ANALYZE_INT_H
#define FM_ANALYZE_INT_H

#include "analyze.h"

#define AN_MAX_FUNCS 64

typedef struct an_req {
    int fn;
    int64_t scheduled_ns, sent_ns, done_ns, instance;
    int http_code, memory_mb;
    bool throttled, invoked, cold;
    double init_ms, duration_ms, billed_ms; /* <= 0: not recorded */
    double share;                           /* 1/n of a server-side batch of n, else 1 */
} an_req;

typedef struct an_inst {
    int fn;
    int64_t id;
    int memory_mb;
    bool provisioned;
    int64_t created_ns, ready_ns, stopped_ns;
    double phase[AN__PHASES];
} an_inst;

typedef struct an_pt {
    int64_t t_ns;
    double value;
    int kind; /* AN_PT_TOTAL ("instances"), AN_PT_STATE ("instances_<state>"), AN_PT_BUSY */
} an_pt;

enum { AN_PT_TOTAL, AN_PT_STATE, AN_PT_BUSY };

typedef struct an_data {
    char *fn[AN_MAX_FUNCS]; /* function names ("" when none was recorded) */
    int n_fn;
    an_req *req;
    size_t n_req, cap_req;
    an_inst *inst; /* sorted by id (the store reads them in id order) */
    size_t n_inst, cap_inst;
    an_pt *pts; /* instance-count points as read, then merged by an_data_index */
    size_t n_pts, cap_pts;
    an_point2 *alive, *busy; /* merged: instances alive and busy at each sample time (ns) */
    size_t n_alive, n_busy;
} an_data;

int an_data_index(an_data *d); /* sorts instances, merges points; FM_ENOMEM */
void an_data_release(an_data *d);
/* Did the request run on a provisioned-concurrency instance? */
bool an_req_on_provisioned(const an_data *d, const an_req *q);

/* A table of text cells, filled by the table builders and printed as text or HTML. */
#define AN_CELL 96
typedef struct an_grid {
    int cols, rows, cap;
    char (*cell)[AN_CELL];
} an_grid;

int an_grid_set(an_grid *g, int row, int col, const char *s);
int an_grid_put(an_grid *g, int row, int col, const char *s, bool is_words);
bool an_grid_is_words(const an_grid *g, int row, int col);
const char *an_grid_text(const an_grid *g, int row, int col); /* without the words mark */
static inline const char *an_grid_at(const an_grid *g, int row, int col)
{
    return g->cell[(size_t)row * (size_t)g->cols + (size_t)col];
}
int an_grid_main(an_run *const *runs, size_t n, an_grid *g);   /* one row per run/function */
int an_grid_detail(an_run *const *runs, size_t n, an_grid *g); /* instances, phases, dispatch */
int an_grid_whatif(an_run *const *runs, size_t n, an_grid *g); /* cost on every entry */
/* Formats a run's own cost (total or per 1M ok requests) or the words why there is none. */
bool an_fmt_run_cost(char *b, size_t cap, const an_run *r, bool per_1m);

#endif
