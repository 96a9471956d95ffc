/* Fuzzes the function URL codecs of the gateway (src/platform/url.c). The first byte picks:
 * even: the input is a function's answer, read as a function URL response; whatever it is, the
 *       reader fails cleanly (-1), declines (1) or yields a status in 100..599;
 * odd:  the rest is a request body split into pieces at the lengths the next bytes give; its
 *       base64, encoded piece by piece with carries, equals the encoding of the whole. */
#include "platform/inv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0) {
        struct evkeyvalq h;
        TAILQ_INIT(&h);
        struct evbuffer *b = evbuffer_new();
        int code = 0;
        int rc = plat_url_reply_decode((const char *)data + 1, size - 1, &code, &h, b);
        if (rc == 0 && (code < 100 || code > 599))
            abort();
        if (rc < -1 || rc > 1)
            abort();
        evhttp_clear_headers(&h);
        evbuffer_free(b);
        return 0;
    }
    size_t nsplit = size > 1 ? data[1] % 8 : 0, at = 2 + nsplit;
    if (at > size)
        return 0;
    struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
    size_t off = at;
    for (size_t i = 0; i < nsplit && off < size; i++) { /* separate chains: one per add_reference */
        size_t n = data[2 + i] % 17 + 1;
        if (n > size - off)
            n = size - off;
        evbuffer_add_reference(in, data + off, n, NULL, NULL);
        off += n;
    }
    if (off < size)
        evbuffer_add_reference(in, data + off, size - off, NULL, NULL);
    size_t len = size - at;
    if (plat_url_base64(out, in) != 0 || evbuffer_get_length(in) != len)
        abort();
    char *whole = malloc((len + 2) / 3 * 4 + 1);
    size_t wl = fm_base64_encode(data + at, len, whole);
    if (evbuffer_get_length(out) != wl || (wl && memcmp(evbuffer_pullup(out, -1), whole, wl) != 0))
        abort();
    free(whole);
    evbuffer_free(in);
    evbuffer_free(out);
    return 0;
}
