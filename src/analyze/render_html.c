#include "analyze.h"
int analyze_write_html(an_run *const *runs, size_t n, const an_opts *o, const char *dir, fm_err *err)
{ (void)runs; (void)n; (void)o; (void)dir; return fm_err_set(err, FM_ENOTBUILT, "html"); }
