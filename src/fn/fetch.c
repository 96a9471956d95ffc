/* The "model download" init phase: a model given as a file:// or http(s):// URL is copied into
 * the instance's task directory with libcurl, as a serverless function fetches its model. */
#include "fn/fn_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool fn_model_is_url(const char *src)
{
    return strncmp(src, "file://", 7) == 0 || strncmp(src, "http://", 7) == 0 ||
           strncmp(src, "https://", 8) == 0;
}

/* Why: the local file takes the URL's last path segment, without query or fragment. */
static void url_basename(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "?#");
    const char *slash = NULL;
    for (const char *q = p; q < p + end; q++)
        if (*q == '/')
            slash = q;
    const char *b = slash ? slash + 1 : p + end;
    size_t n = (size_t)(p + end - b);
    if (n == 0 || n >= cap || (n <= 2 && b[0] == '.'))
        snprintf(out, cap, "model.onnx");
    else
        snprintf(out, cap, "%.*s", (int)n, b);
}

int fn_model_fetch(const char *url, const char *task_dir, char *local, size_t cap, fm_err *err)
{
    char base[256], tmp[4200];
    url_basename(url, base, sizeof base);
    if (mkdir(task_dir, 0755) != 0 && errno != EEXIST)
        return fm_err_set(err, -errno, "cannot create task directory '%s': %s", task_dir,
                          strerror(errno));
    snprintf(local, cap, "%s/%s", task_dir, base);
    snprintf(tmp, sizeof tmp, "%s.part", local);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return fm_err_set(err, -errno, "cannot write '%s': %s", tmp, strerror(errno));
    CURL *c = curl_easy_init();
    if (!c) {
        fclose(f);
        remove(tmp);
        return fm_err_set(err, FM_ENOMEM, "cannot start libcurl");
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    int closed = fclose(f);
    if (cc != CURLE_OK || closed != 0) {
        remove(tmp);
        return fm_err_set(err, FM_EIO, "cannot download model '%s': %s", url,
                          cc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(cc))
                                         : "write failed");
    }
    if (rename(tmp, local) != 0) {
        remove(tmp);
        return fm_err_set(err, -errno, "cannot write '%s': %s", local, strerror(errno));
    }
    return 0;
}
