/* Private to the load module: an incremental HTTP/1.1 response parser for the lean client.
 *
 * Use: zero a load_http_resp (load_http_resp_init), then call load_http_parse with the bytes
 * received so far that it has not consumed yet. It consumes what it can, calls `line` once per
 * header line (status line excluded), and answers MORE (give it more bytes, keeping the
 * unconsumed ones at the front), DONE (one response complete, *used bytes belong to it), or ERROR
 * with a reason. A response whose body runs to the end of the connection is DONE only through
 * load_http_parse_eof. Nothing allocates; every read is bounded by len (network input).
 */
#ifndef FM_LOAD_HTTP_INT_H
#define FM_LOAD_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_HTTP_MAX_HEAD 65536 /* status line and headers together, bytes */

typedef enum load_http_rc { LOAD_HTTP_MORE, LOAD_HTTP_DONE, LOAD_HTTP_ERROR } load_http_rc;

typedef enum load_http_state {
    LOAD_HTTP_S_HEAD,        /* status line and headers, up to the empty line */
    LOAD_HTTP_S_BODY,        /* Content-Length body */
    LOAD_HTTP_S_CHUNK_SIZE,  /* a chunk-size line */
    LOAD_HTTP_S_CHUNK_DATA,  /* chunk data */
    LOAD_HTTP_S_CHUNK_CRLF,  /* the CRLF after chunk data */
    LOAD_HTTP_S_TRAILER,     /* trailer lines after the last chunk */
    LOAD_HTTP_S_UNTIL_CLOSE, /* no length: the body ends with the connection */
    LOAD_HTTP_S_DONE
} load_http_state;

typedef struct load_http_resp {
    load_http_state state;
    int status;          /* HTTP status code of the final (non-1xx) response */
    bool keep_alive;     /* the connection may carry the next request */
    bool head_request;   /* the request was HEAD: no body whatever the headers say */
    uint64_t body_left;  /* bytes of the current body or chunk still to come */
    uint64_t body_bytes; /* body bytes seen so far */
    size_t scan;         /* bytes of the unconsumed input already searched for a terminator */
} load_http_resp;

/* Called once per header line of the final response: "Name: value" without the CRLF. */
typedef void (*load_http_line_fn)(const char *p, size_t len, void *ud);

void load_http_resp_init(load_http_resp *r, bool head_request);
load_http_rc load_http_parse(load_http_resp *r, const char *buf, size_t len, size_t *used,
                             load_http_line_fn line, void *ud, const char **why);
/* The connection ended: DONE when the response was complete or ran to the close, else ERROR. */
load_http_rc load_http_parse_eof(load_http_resp *r, const char **why);

#endif
