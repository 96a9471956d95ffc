/* An open-loop HTTP load generator for the gateway benchmark: requests are scheduled at a fixed
 * rate and each latency is measured from its scheduled time (no coordinated omission), over a pool
 * of keep-alive connections, one request in flight per connection.
 *   openloop HOST PORT PATH RATE SECONDS CONNS PAYLOAD [HEADER...]
 * Prints one JSON line: sent, ok, errors, mean/p50/p90/p99/max latency in microseconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    int64_t sched_ns; /* 0: idle */
    size_t len;
    char buf[65536];
} conn;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int dial(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("openloop: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* A complete response at the front of c->buf: its length, or 0. */
static size_t frame(conn *c, int *status)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hl = (size_t)(end - c->buf) + 4, bl = 0;
    for (char *p = c->buf; p < end; p++)
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            bl = strtoul(p + 15, NULL, 10);
    *status = atoi(c->buf + 9);
    return c->len >= hl + bl ? hl + bl : 0;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: openloop HOST PORT PATH RATE SECONDS CONNS PAYLOAD [HEADER...]\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3], *payload = argv[7];
    int port = atoi(argv[2]), nconn = atoi(argv[6]);
    double rate = atof(argv[4]), secs = atof(argv[5]);
    char req[8192];
    int rl = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                      "application/json\r\nContent-Length: %zu\r\n",
                      path, host, strlen(payload));
    for (int i = 8; i < argc; i++)
        rl += snprintf(req + rl, sizeof req - (size_t)rl, "%s\r\n", argv[i]);
    rl += snprintf(req + rl, sizeof req - (size_t)rl, "\r\n%s", payload);
    size_t total = (size_t)(rate * secs);
    int64_t *lat = calloc(total + 1, sizeof *lat), gap = (int64_t)(1e9 / rate);
    conn *cs = calloc((size_t)nconn, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nconn, sizeof *pf);
    for (int i = 0; i < nconn; i++)
        cs[i].fd = dial(host, port);
    size_t sent = 0, done = 0, ok = 0, errors = 0, backlog_head = 0;
    int64_t start = now_ns() + 1000000;
    while (done < total) {
        int64_t t = now_ns();
        /* Send every request whose time has come, on idle connections; the rest wait, and their
         * latency still counts from the scheduled time. */
        while (backlog_head < total && start + (int64_t)backlog_head * gap <= t) {
            int idle = -1;
            for (int i = 0; i < nconn && idle < 0; i++)
                if (!cs[i].sched_ns)
                    idle = i;
            if (idle < 0)
                break;
            if (write(cs[idle].fd, req, (size_t)rl) != rl) {
                perror("openloop: write");
                return 1;
            }
            cs[idle].sched_ns = start + (int64_t)backlog_head * gap;
            backlog_head++;
            sent++;
        }
        int64_t next = backlog_head < total ? start + (int64_t)backlog_head * gap : t + 10000000;
        int wait_ms = next > t ? (int)((next - t) / 1000000) : 0;
        for (int i = 0; i < nconn; i++)
            pf[i] = (struct pollfd){cs[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)nconn, wait_ms) < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < nconn; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            conn *c = &cs[i];
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (n <= 0) {
                /* The server closed the connection (keep-alive limit): a request in flight on it
                 * is an error; reconnect either way. */
                if (c->sched_ns) {
                    lat[done++] = now_ns() - c->sched_ns;
                    errors++;
                    c->sched_ns = 0;
                }
                close(c->fd);
                c->fd = dial(host, port);
                c->len = 0;
                continue;
            }
            c->len += (size_t)n;
            int status;
            size_t fl;
            while ((fl = frame(c, &status)) && c->sched_ns) {
                lat[done++] = now_ns() - c->sched_ns;
                if (status == 200)
                    ok++;
                else
                    errors++;
                c->sched_ns = 0;
                memmove(c->buf, c->buf + fl, c->len - fl);
                c->len -= fl;
            }
        }
    }
    qsort(lat, done, sizeof *lat, cmp64);
    double sum = 0;
    for (size_t i = 0; i < done; i++)
        sum += (double)lat[i];
#define Q(q) ((double)lat[(size_t)((q) * (double)(done - 1))] / 1000.0)
    printf("{\"sent\":%zu,\"ok\":%zu,\"errors\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,"
           "\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
           sent, ok, errors, sum / (double)done / 1000.0, Q(0.5), Q(0.9), Q(0.99), Q(1.0));
    return 0;
}
