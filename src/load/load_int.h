/* Private to the load module. */
#ifndef FM_LOAD_INT_H
#define FM_LOAD_INT_H

#include "load.h"

/* Reads one response header line ("Name: value\r\n", not NUL-terminated) into the record: the
 * faasml headers X-Faasml-Instance and X-Faasml-Cold, Lambda's X-Amz-Function-Error (sets
 * *fn_error) and X-Amz-Log-Result (base64 log tail whose REPORT line gives durations, memory and,
 * through Init Duration, the cold flag). Other lines are ignored. */
void load_headers_parse_line(const char *p, size_t len, load_record *r, bool *fn_error);

/* Parses a Lambda REPORT line's fields into the record; returns true when it was one. */
bool load_report_parse(const char *p, size_t len, load_record *r);

/* A fresh iterator over the same schedule as a (same spec and seed); the spec's trace data stays
 * borrowed from the caller. */
int load_arrival_restart(const load_arrival *a, load_arrival **out, fm_err *err);

#endif
