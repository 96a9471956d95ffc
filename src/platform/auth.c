/* SigV4 verification (auth.h). The algorithm follows AWS's "Signature Version 4 signing
 * process": canonical request, string to sign, a key derived from the secret by four HMACs,
 * the signature compared in constant time. Lambda is not S3: the canonical URI is the wire path
 * URI-encoded once more (as botocore signs it), and the payload is always hashed. */
#include "auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALGO "AWS4-HMAC-SHA256"
#define SERVICE "lambda"

/* ---- credentials file ----------------------------------------------------------------------- */

static const struct {
    const char *word;
    unsigned bit;
} perm_words[] = {{"invoke", PLAT_AUTH_INVOKE}, {"admin", PLAT_AUTH_ADMIN}};

int plat_creds_parse(const char *buf, size_t len, const char *name, plat_creds *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    if (rc)
        return rc;
    static const char *const top_keys[] = {"credentials", NULL};
    static const char *const keys[] = {"access_key", "secret_key", "permissions", NULL};
    const fm_ynode *root = fm_yaml_root(y);
    const fm_ynode *list = root ? fm_ynode_get(root, "credentials") : NULL;
    if (!root || fm_ynode_kind_of(root) != FM_YAML_MAP) {
        rc = fm_err_set(err, FM_EPARSE, "%s: expected a mapping with 'credentials'", name);
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, top_keys, err)))
        goto out;
    if (!list || fm_ynode_kind_of(list) != FM_YAML_SEQ || fm_ynode_len(list) == 0) {
        rc = fm_yaml_error(y, list ? list : root, err, FM_EINVAL,
                           "'credentials' must be a non-empty list");
        goto out;
    }
    out->v = calloc(fm_ynode_len(list), sizeof *out->v);
    if (!out->v) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < fm_ynode_len(list); i++) {
        const fm_ynode *it = fm_ynode_item(list, i);
        plat_cred *c = &out->v[out->n];
        const char *ak = NULL, *sk = NULL;
        if (fm_ynode_kind_of(it) != FM_YAML_MAP) {
            rc = fm_yaml_error(y, it, err, FM_EINVAL, "a credential must be a mapping");
            goto out;
        }
        if ((rc = fm_yaml_check_keys(y, it, keys, err)) ||
            (rc = fm_yaml_get_str(y, it, "access_key", true, &ak, err)) ||
            (rc = fm_yaml_get_str(y, it, "secret_key", true, &sk, err)))
            goto out;
        if (!*ak || strlen(ak) > PLAT_AUTH_KEY_MAX || strcspn(ak, "/, =") != strlen(ak) || !*sk ||
            strlen(sk) > PLAT_AUTH_KEY_MAX) {
            rc = fm_yaml_error(y, it, err, FM_EINVAL,
                               "access_key and secret_key must be 1-%d characters (no '/', ',', "
                               "'=' or space in the key)",
                               PLAT_AUTH_KEY_MAX);
            goto out;
        }
        for (int j = 0; j < out->n; j++)
            if (strcmp(out->v[j].access_key, ak) == 0) {
                rc = fm_yaml_error(y, it, err, FM_EINVAL, "access key '%s' appears twice", ak);
                goto out;
            }
        const fm_ynode *perms = fm_ynode_get(it, "permissions");
        if (!perms || fm_ynode_kind_of(perms) != FM_YAML_SEQ || fm_ynode_len(perms) == 0) {
            rc = fm_yaml_error(y, perms ? perms : it, err, FM_EINVAL,
                               "'permissions' must list invoke and/or admin");
            goto out;
        }
        for (size_t j = 0; j < fm_ynode_len(perms); j++) {
            const char *w = fm_ynode_str(fm_ynode_item(perms, j));
            unsigned bit = 0;
            for (size_t k = 0; w && k < FM_ARRAY_LEN(perm_words); k++)
                if (strcmp(w, perm_words[k].word) == 0)
                    bit = perm_words[k].bit;
            if (!bit) {
                rc = fm_yaml_error(y, fm_ynode_item(perms, j), err, FM_EINVAL,
                                   "unknown permission '%s' (invoke, admin)", w ? w : "?");
                goto out;
            }
            c->perms |= bit;
        }
        snprintf(c->access_key, sizeof c->access_key, "%s", ak);
        snprintf(c->secret, sizeof c->secret, "%s", sk);
        out->n++;
    }
out:
    fm_yaml_free(y);
    if (rc)
        plat_creds_release(out);
    return rc;
}

int plat_creds_load(const char *path, plat_creds *out, fm_err *err)
{
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = plat_creds_parse(buf, len, path, out, err);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

void plat_creds_release(plat_creds *c)
{
    if (!c)
        return;
    if (c->v)
        OPENSSL_cleanse(c->v, (size_t)c->n * sizeof *c->v);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* ---- the Authorization header --------------------------------------------------------------- */

/* Copies [s, s+n) into out (cap bytes) when it fits and holds only allowed characters. */
static bool take(const char *s, size_t n, char *out, size_t cap, const char *allowed)
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(allowed, s[i]) || s[i] == 0)
            return false;
    memcpy(out, s, n);
    out[n] = 0;
    return true;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int plat_sigv4_parse(const char *s, size_t len, plat_sigv4_auth *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    const char *end = s + len;
    size_t al = strlen(ALGO);
    if (len < al + 1 || memcmp(s, ALGO, al) != 0 || s[al] != ' ')
        return fm_err_set(err, FM_EPARSE, "authorization: expected '" ALGO " Credential=...'");
    const char *p = s + al;
    bool have[3] = {0};
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p == end)
            break;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return fm_err_set(err, FM_EPARSE, "authorization: a component without '='");
        const char *v = eq + 1, *ve = memchr(v, ',', (size_t)(end - v));
        if (!ve)
            ve = end;
        while (ve > v && ve[-1] == ' ')
            ve--;
        size_t kl = (size_t)(eq - p), vl = (size_t)(ve - v);
        if (kl == 10 && memcmp(p, "Credential", 10) == 0 && !have[0]) {
            /* KEY/DATE/REGION/SERVICE/aws4_request; the key itself holds no '/' */
            const char *f[5];
            size_t fl[5];
            int nf = 0;
            const char *q = v;
            while (nf < 5) {
                const char *sl = memchr(q, '/', (size_t)(ve - q));
                f[nf] = q;
                fl[nf++] = (size_t)((sl ? sl : ve) - q);
                if (!sl)
                    break;
                q = sl + 1;
            }
            if (nf != 5 || (f[4] + fl[4]) != ve || fl[4] != 12 ||
                memcmp(f[4], "aws4_request", 12) != 0 ||
                !take(f[0], fl[0], out->access_key, sizeof out->access_key, ALNUM "+_-.") ||
                fl[1] != 8 || !take(f[1], fl[1], out->date, sizeof out->date, "0123456789") ||
                !take(f[2], fl[2], out->region, sizeof out->region, ALNUM "-") ||
                !take(f[3], fl[3], out->service, sizeof out->service, ALNUM "-"))
                return fm_err_set(err, FM_EPARSE,
                                  "authorization: Credential must be "
                                  "KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
            have[0] = true;
        } else if (kl == 13 && memcmp(p, "SignedHeaders", 13) == 0 && !have[1]) {
            if (!take(v, vl, out->signed_headers, sizeof out->signed_headers,
                      "abcdefghijklmnopqrstuvwxyz0123456789-_.;"))
                return fm_err_set(err, FM_EPARSE,
                                  "authorization: SignedHeaders must be lowercase names "
                                  "separated by ';'");
            /* sorted, unique, no empty name */
            const char *prev = NULL, *h = out->signed_headers;
            size_t pl = 0;
            while (*h) {
                size_t hl = strcspn(h, ";");
                if (hl == 0 || (prev && (strncmp(prev, h, pl < hl ? pl : hl) > 0 ||
                                         (strncmp(prev, h, pl < hl ? pl : hl) == 0 && pl >= hl))))
                    return fm_err_set(err, FM_EPARSE,
                                      "authorization: SignedHeaders must be sorted and unique");
                prev = h;
                pl = hl;
                h += hl + (h[hl] == ';');
                if (h[-1] == ';' && !*h)
                    return fm_err_set(err, FM_EPARSE, "authorization: SignedHeaders ends with ';'");
            }
            have[1] = true;
        } else if (kl == 9 && memcmp(p, "Signature", 9) == 0 && !have[2]) {
            if (vl != 64 || !take(v, vl, out->signature, sizeof out->signature, "0123456789abcdef"))
                return fm_err_set(err, FM_EPARSE,
                                  "authorization: Signature must be 64 lowercase hex digits");
            have[2] = true;
        } else {
            return fm_err_set(err, FM_EPARSE, "authorization: unknown or repeated component '%.*s'",
                              (int)(kl > 40 ? 40 : kl), p);
        }
        p = ve;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p != ',')
            return fm_err_set(err, FM_EPARSE, "authorization: components must be separated by ','");
    }
    if (!have[0] || !have[1] || !have[2])
        return fm_err_set(err, FM_EPARSE,
                          "authorization: Credential, SignedHeaders and Signature are required");
    return 0;
}

/* ---- canonical request ---------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool over;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->over || b->n + n + 1 > b->cap) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 3986 encoding of every byte but the unreserved ones (and '/' when keep_slash). */
static void put_encoded(sbuf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            put(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(b, e, 3);
        }
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes [s, s+n) into out (cap bytes, at least n+1); its length. An invalid escape
 * stays as it is. */
static size_t decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return o;
}

typedef struct qpair {
    char k[256], v[512]; /* encoded */
} qpair;

static int qcmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

#define MAX_QUERY 32

/* The canonical query string: each key and value decoded, then strictly encoded, sorted. */
static int canonical_query(sbuf *b, const char *q)
{
    if (!q || !*q)
        return 0;
    qpair pairs[MAX_QUERY];
    int np = 0;
    const char *p = q;
    while (*p) {
        size_t n = strcspn(p, "&");
        if (n) {
            if (np == MAX_QUERY)
                return FM_ELIMIT;
            const char *eq = memchr(p, '=', n);
            size_t kl = eq ? (size_t)(eq - p) : n, vl = eq ? n - kl - 1 : 0;
            char raw[512];
            if (kl >= sizeof raw || vl >= sizeof raw)
                return FM_ELIMIT;
            sbuf kb = {pairs[np].k, 0, sizeof pairs[np].k, false};
            sbuf vb = {pairs[np].v, 0, sizeof pairs[np].v, false};
            pairs[np].k[0] = pairs[np].v[0] = 0;
            size_t dl = decode(p, kl, raw);
            put_encoded(&kb, raw, dl, false);
            dl = decode(eq ? eq + 1 : p + n, vl, raw);
            put_encoded(&vb, raw, dl, false);
            if (kb.over || vb.over)
                return FM_ELIMIT;
            np++;
        }
        p += n + (p[n] == '&');
    }
    qsort(pairs, (size_t)np, sizeof *pairs, qcmp);
    for (int i = 0; i < np; i++) {
        if (i)
            puts_(b, "&");
        puts_(b, pairs[i].k);
        puts_(b, "=");
        puts_(b, pairs[i].v);
    }
    return 0;
}

/* A header value trimmed, runs of spaces and tabs collapsed to one space. */
static void put_value(sbuf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            space = true;
            continue;
        }
        if (space)
            put(b, " ", 1);
        space = false;
        put(b, v, 1);
    }
}

int plat_sigv4_canonical(const plat_sigv4_req *r, const char *signed_headers, char *out, size_t cap)
{
    sbuf b = {out, 0, cap, false};
    if (cap)
        out[0] = 0;
    puts_(&b, r->method);
    puts_(&b, "\n");
    const char *path = r->path && *r->path ? r->path : "/";
    put_encoded(&b, path, strlen(path), true);
    puts_(&b, "\n");
    int rc = canonical_query(&b, r->query);
    if (rc)
        return rc;
    puts_(&b, "\n");
    const char *h = signed_headers;
    while (*h) {
        size_t hl = strcspn(h, ";");
        bool found = false;
        put(&b, h, hl);
        puts_(&b, ":");
        for (int i = 0; i < r->nh; i++)
            if (strlen(r->h[i].name) == hl && strncasecmp(r->h[i].name, h, hl) == 0) {
                if (found)
                    puts_(&b, ",");
                put_value(&b, r->h[i].value);
                found = true;
            }
        if (!found)
            return FM_EINVAL;
        puts_(&b, "\n");
        h += hl + (h[hl] == ';');
    }
    puts_(&b, "\n");
    puts_(&b, signed_headers);
    puts_(&b, "\n");
    puts_(&b, r->payload_sha256);
    return b.over ? FM_ELIMIT : (int)b.n;
}

/* ---- signing -------------------------------------------------------------------------------- */

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = 0;
}

void plat_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_Digest(data, len, md, &ml, EVP_sha256(), NULL);
    to_hex(md, 32, hex);
}

static void hmac(const void *key, size_t kl, const char *msg, unsigned char out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, strlen(msg), out, &ol);
}

void plat_sigv4_sign(const char *secret, const char *date8, const char *region, const char *service,
                     const char *amz_date, const char *canonical, char hex[65])
{
    char k0[PLAT_AUTH_KEY_MAX + 8];
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    unsigned char kd[32], kr[32], ks[32], kk[32], sig[32];
    hmac(k0, strlen(k0), date8, kd);
    hmac(kd, 32, region, kr);
    hmac(kr, 32, service, ks);
    hmac(ks, 32, "aws4_request", kk);
    char ch[65], sts[256];
    plat_sigv4_sha256_hex(canonical, strlen(canonical), ch);
    snprintf(sts, sizeof sts, "%s\n%s\n%s/%s/%s/aws4_request\n%s", ALGO, amz_date, date8, region,
             service, ch);
    hmac(kk, 32, sts, sig);
    to_hex(sig, 32, hex);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(kk, sizeof kk);
}

/* ---- verification --------------------------------------------------------------------------- */

static const char *find_header(const plat_sigv4_req *r, const char *name)
{
    for (int i = 0; i < r->nh; i++)
        if (strcasecmp(r->h[i].name, name) == 0)
            return r->h[i].value;
    return NULL;
}

/* YYYYMMDD'T'HHMMSS'Z' to Unix seconds; -1 when malformed. */
static int64_t parse_amz_date(const char *s)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    return (int64_t)timegm(&tm);
}

static void fmt_amz(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void refuse(plat_auth_result *out, plat_auth_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(plat_auth_result *out, plat_auth_outcome o, const char *fmt, ...)
{
    static const char *const types[] = {
        [PLAT_AUTH_MISSING] = "UnrecognizedClientException",
        [PLAT_AUTH_UNKNOWN_KEY] = "UnrecognizedClientException",
        [PLAT_AUTH_MALFORMED] = "InvalidSignatureException",
        [PLAT_AUTH_SCOPE] = "InvalidSignatureException",
        [PLAT_AUTH_EXPIRED] = "InvalidSignatureException",
        [PLAT_AUTH_SIGNATURE] = "InvalidSignatureException",
        [PLAT_AUTH_DENIED] = "AccessDeniedException",
    };
    out->outcome = o;
    out->type = types[o];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof out->msg, fmt, ap);
    va_end(ap);
}

void plat_auth_verify(const plat_creds *creds, const plat_sigv4_req *r, const char *authz,
                      const char *region, int64_t now_s, unsigned need, plat_auth_result *out)
{
    memset(out, 0, sizeof *out);
    if (!authz || !*authz) {
        refuse(out, PLAT_AUTH_MISSING,
               "Missing Authentication Token: the request is not signed "
               "(AWS Signature Version 4)");
        return;
    }
    plat_sigv4_auth a;
    fm_err err = {0};
    if (plat_sigv4_parse(authz, strlen(authz), &a, &err)) {
        refuse(out, PLAT_AUTH_MALFORMED, "%s", err.msg);
        return;
    }
    snprintf(out->access_key, sizeof out->access_key, "%s", a.access_key);
    const plat_cred *c = NULL;
    for (int i = 0; i < creds->n && !c; i++)
        if (strcmp(creds->v[i].access_key, a.access_key) == 0)
            c = &creds->v[i];
    if (!c) {
        refuse(out, PLAT_AUTH_UNKNOWN_KEY,
               "The security token included in the request is invalid.");
        return;
    }
    const char *amz = find_header(r, "x-amz-date");
    int64_t t = parse_amz_date(amz);
    if (t < 0) {
        refuse(out, PLAT_AUTH_MALFORMED, "X-Amz-Date must be YYYYMMDD'T'HHMMSS'Z'");
        return;
    }
    if (strcmp(a.region, region) != 0) {
        refuse(out, PLAT_AUTH_SCOPE, "Credential should be scoped to a valid region, not '%s'.",
               a.region);
        return;
    }
    if (strcmp(a.service, SERVICE) != 0) {
        refuse(out, PLAT_AUTH_SCOPE, "Credential should be scoped to correct service: '%s'.",
               SERVICE);
        return;
    }
    if (strncmp(amz, a.date, 8) != 0) {
        refuse(out, PLAT_AUTH_SCOPE,
               "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
               "from HTTP: '%s' != '%.8s', from '%s'.",
               a.date, amz, amz);
        return;
    }
    if (t < now_s - PLAT_AUTH_SKEW_S || t > now_s + PLAT_AUTH_SKEW_S) {
        char now[17], edge[17];
        fmt_amz(now_s, now);
        fmt_amz(t < now_s ? now_s - PLAT_AUTH_SKEW_S : now_s + PLAT_AUTH_SKEW_S, edge);
        refuse(out, PLAT_AUTH_EXPIRED, "Signature expired: %s is now %s than %s (%s %c 15 min.)",
               amz, t < now_s ? "earlier" : "later", edge, now, t < now_s ? '-' : '+');
        return;
    }
    /* host must be signed (it binds the signature to this endpoint) */
    bool host = false;
    for (const char *h = a.signed_headers; *h; h += strcspn(h, ";") + (h[strcspn(h, ";")] == ';'))
        host |= strncmp(h, "host", 4) == 0 && (h[4] == ';' || h[4] == 0);
    char canon[16384];
    int n = host ? plat_sigv4_canonical(r, a.signed_headers, canon, sizeof canon) : FM_EINVAL;
    if (n < 0) {
        refuse(out, PLAT_AUTH_MALFORMED,
               n == FM_ELIMIT ? "the request is too large to verify"
                              : "SignedHeaders must include host and name only headers the "
                                "request carries");
        return;
    }
    char sig[65];
    plat_sigv4_sign(c->secret, a.date, a.region, a.service, amz, canon, sig);
    if (CRYPTO_memcmp(sig, a.signature, 64) != 0) {
        refuse(out, PLAT_AUTH_SIGNATURE,
               "The request signature we calculated does not match the signature you provided. "
               "Check your AWS Secret Access Key and signing method.");
        return;
    }
    if ((c->perms & need) != need) {
        refuse(out, PLAT_AUTH_DENIED, "access key '%s' is not allowed to %s", a.access_key,
               need & PLAT_AUTH_ADMIN ? "administer functions (needs the admin permission)"
                                      : "invoke functions (needs the invoke permission)");
        return;
    }
    out->outcome = PLAT_AUTH_OK;
}
