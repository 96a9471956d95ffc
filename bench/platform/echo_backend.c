/* The echo backend of the gateway benchmark, one program for both sides so they do the same work:
 *   echo_backend http        an HTTP/1.1 keep-alive echo server on 127.0.0.1 (port printed);
 *                            nginx proxies to it, and the client also calls it directly
 *   echo_backend runtime     a Lambda custom runtime (AWS_LAMBDA_RUNTIME_API): GET /next, echo
 *                            the event with POST /response, repeat; faasml serve runs it
 * Plain blocking sockets and minimal HTTP parsing (Content-Length bodies only), no allocation per
 * request: the backend's own cost is a few microseconds in both modes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (1 << 20)

typedef struct conn {
    int fd;
    size_t len;
    char buf[BUF];
} conn;

/* Returns the length of one complete request/response at the front of c->buf (headers + body),
 * 0 when more bytes are needed; *hdr_len and *body_len are set. */
static size_t frame(conn *c, size_t *hdr_len, size_t *body_len)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    *hdr_len = (size_t)(end - c->buf) + 4;
    *body_len = 0;
    for (char *p = c->buf; p < end; p++)
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            *body_len = strtoul(p + 15, NULL, 10);
    return c->len >= *hdr_len + *body_len ? *hdr_len + *body_len : 0;
}

static int read_more(conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, BUF - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

static void consume(conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int serve_http(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 512) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("echo_backend: listen");
        return 1;
    }
    printf("listening on http://127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    enum { MAXC = 256 };
    static conn *cs[MAXC];
    struct pollfd pf[MAXC + 1];
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){ls, POLLIN, 0};
        for (int i = 0; i < MAXC; i++)
            if (cs[i])
                pf[n++] = (struct pollfd){cs[i]->fd, POLLIN, 0};
        if (poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR)
            return 1;
        if (pf[0].revents & POLLIN) {
            int fd = accept(ls, NULL, NULL);
            for (int i = 0; fd >= 0 && i < MAXC; i++)
                if (!cs[i]) {
                    cs[i] = calloc(1, sizeof *cs[i]);
                    cs[i]->fd = fd;
                    nodelay(fd);
                    fd = -1;
                }
            if (fd >= 0)
                close(fd);
        }
        for (int i = 0; i < MAXC; i++) {
            conn *c = cs[i];
            int j;
            for (j = 1; c && j < n && pf[j].fd != c->fd; j++)
                ;
            if (!c || j >= n || !(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            size_t hl, bl, fl;
            if (read_more(c)) {
                close(c->fd);
                free(c);
                cs[i] = NULL;
                continue;
            }
            while ((fl = frame(c, &hl, &bl))) {
                char head[128];
                int h = snprintf(head, sizeof head,
                                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n\r\n",
                                 bl);
                if (write_all(c->fd, head, (size_t)h) || write_all(c->fd, c->buf + hl, bl))
                    break;
                consume(c, fl);
            }
        }
    }
}

static int run_runtime(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *colon = api ? strrchr(api, ':') : NULL;
    if (!colon) {
        fprintf(stderr, "echo_backend: AWS_LAMBDA_RUNTIME_API is not set\n");
        return 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static conn c;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror("echo_backend: connect");
        return 1;
    }
    nodelay(c.fd);
    static const char next[] = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                               "Host: rapi\r\n\r\n";
    static char out[BUF + 512];
    for (;;) {
        size_t hl, bl, fl;
        if (write_all(c.fd, next, sizeof next - 1))
            return 1;
        while (!(fl = frame(&c, &hl, &bl)))
            if (read_more(&c))
                return 1;
        char id[64] = "";
        char *h = strcasestr(c.buf, "Lambda-Runtime-Aws-Request-Id:");
        if (h && h < c.buf + hl)
            sscanf(h + 30, " %63[^\r\n]", id);
        int n = snprintf(out, sizeof out,
                         "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                         "Host: rapi\r\nContent-Length: %zu\r\n\r\n",
                         id, bl);
        memcpy(out + n, c.buf + hl, bl);
        consume(&c, fl);
        if (write_all(c.fd, out, (size_t)n + bl))
            return 1;
        while (!(fl = frame(&c, &hl, &bl))) /* the 202 */
            if (read_more(&c))
                return 1;
        consume(&c, fl);
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "http") == 0)
        return serve_http();
    if (argc == 2 && strcmp(argv[1], "runtime") == 0)
        return run_runtime();
    fprintf(stderr, "usage: echo_backend http|runtime\n");
    return 2;
}
