/* The format table, the entry point, and what every builder shares: child processes, files, the
 * binary's libraries. */
#include "package_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*pkg_builder)(const platform_spec *, const package_plan *, const package_opts *,
                           package_result *, fm_err *);

static const struct {
    const char *name, *help;
} formats[] = {
#define PACKAGE_XX(name, str, help) {str, help},
    PACKAGE_FORMAT_MAP(PACKAGE_XX)
#undef PACKAGE_XX
};
_Static_assert(FM_ARRAY_LEN(formats) == PACKAGE_FORMAT__COUNT, "one name per format");

static const pkg_builder builders[] = {
    [PACKAGE_FORMAT_LAMBDA_ZIP] = pkg_build_zip,      [PACKAGE_FORMAT_OCI] = pkg_build_oci,
    [PACKAGE_FORMAT_KNATIVE] = pkg_build_knative,     [PACKAGE_FORMAT_KSERVE] = pkg_build_kserve,
    [PACKAGE_FORMAT_SAGEMAKER] = pkg_build_sagemaker, [PACKAGE_FORMAT_SAM] = pkg_build_sam,
};
_Static_assert(FM_ARRAY_LEN(builders) == PACKAGE_FORMAT__COUNT, "one builder per format");

const char *package_format_name(package_format f)
{
    return (unsigned)f < PACKAGE_FORMAT__COUNT ? formats[f].name : "?";
}

const char *package_format_help(package_format f)
{
    return (unsigned)f < PACKAGE_FORMAT__COUNT ? formats[f].help : "?";
}

int package_format_parse(const char *s, package_format *out)
{
    for (int i = 0; i < PACKAGE_FORMAT__COUNT; i++)
        if (strcmp(formats[i].name, s) == 0) {
            *out = (package_format)i;
            return 0;
        }
    return FM_EINVAL;
}

void package_opts_init(package_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = PACKAGE_FORMAT_LAMBDA_ZIP;
}

/* Why: every format needs a validated plan and an output directory; doing both here keeps the
 * builders to their mapping. */
int package_build(const platform_spec *spec, const package_opts *o, package_result *res,
                  fm_err *err)
{
    memset(res, 0, sizeof *res);
    if ((unsigned)o->format >= PACKAGE_FORMAT__COUNT)
        return fm_err_set(err, FM_EINVAL, "unknown package format %d", (int)o->format);
    if (!o->out_dir || !*o->out_dir)
        return fm_err_set(err, FM_EINVAL, "no output directory (-o DIR)");
    package_plan plan;
    int rc = package_plan_make(spec, o->platforms, &plan, err);
    if (rc || (rc = package_limits_load(o->limits, &plan.lim, err)))
        return rc;
    if (plan.model_file[0]) {
        struct stat st;
        if (stat(plan.model_path, &st) != 0)
            return fm_err_set(err, -errno, "%s: model '%s': %s", spec->name, plan.model_path,
                              strerror(errno));
        if (!S_ISREG(st.st_mode))
            return fm_err_set(err, FM_EINVAL, "%s: model '%s' is not a regular file", spec->name,
                              plan.model_path);
    }
    if ((rc = pkg_mkdirs(o->out_dir, err)))
        return rc;
    return builders[o->format](spec, &plan, o, res, err);
}

void pkg_log(const package_opts *o, const char *fmt, ...)
{
    if (!o->log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->log_ud, line);
}

/* ---- child processes ------------------------------------------------------------------------ */

/* A growing text buffer for a child's output. */
typedef struct pkg_buf {
    char *b;
    size_t n, cap;
    bool oom;
} pkg_buf;

/* Reads what is ready on fd; returns false at end of file. */
static bool drain(int fd, pkg_buf *pb)
{
    char tmp[8192];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (r <= 0)
        return false;
    if (pb->n + (size_t)r + 1 > pb->cap) {
        size_t nc = (pb->cap ? pb->cap : 4096);
        while (nc < pb->n + (size_t)r + 1)
            nc *= 2;
        char *nb = realloc(pb->b, nc);
        if (!nb) {
            pb->oom = true;
            return true; /* keep reading so the child never blocks */
        }
        pb->b = nb;
        pb->cap = nc;
    }
    memcpy(pb->b + pb->n, tmp, (size_t)r);
    pb->n += (size_t)r;
    pb->b[pb->n] = '\0';
    return true;
}

/* Why: a tool may fill either pipe first (podman writes progress to both), so both are read as
 * they become ready. */
static void read_both(int fo, int fe, pkg_buf *o, pkg_buf *e)
{
    struct pollfd pf[2] = {{fo, POLLIN, 0}, {fe, POLLIN, 0}};
    bool open_o = true, open_e = true;
    while (open_o || open_e) {
        pf[0].fd = open_o ? fo : -1;
        pf[1].fd = open_e ? fe : -1;
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (open_o && pf[0].revents)
            open_o = drain(fo, o);
        if (open_e && pf[1].revents)
            open_e = drain(fe, e);
    }
}

/* The last non-empty line of a tool's stderr, for the error message. */
static void last_line(const char *text, char *buf, size_t cap)
{
    size_t n = text ? strlen(text) : 0;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    size_t start = n;
    while (start && text[start - 1] != '\n')
        start--;
    snprintf(buf, cap, "%.*s", (int)(n - start), text ? text + start : "");
}

int pkg_run(const char *cwd, char *const argv[], char **out, fm_err *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        int e = errno;
        if (po[0] >= 0)
            close(po[0]), close(po[1]);
        return fm_err_set(err, -e, "pipe: %s", strerror(e));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return fm_err_set(err, -e, "cannot start '%s': %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        if (cwd && chdir(cwd) != 0) {
            dprintf(2, "cannot enter '%s': %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        dprintf(2, "cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    pkg_buf ob = {0}, eb = {0};
    read_both(po[0], pe[0], &ob, &eb);
    close(po[0]);
    close(pe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    const char *o_txt = ob.b ? ob.b : "", *e_txt = eb.b ? eb.b : "";
    if (ob.oom || eb.oom) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[400];
        last_line(e_txt, line, sizeof line);
        if (!line[0])
            last_line(o_txt, line, sizeof line);
        if (WIFEXITED(status))
            rc = fm_err_set(err, FM_EIO, "'%s' failed (exit %d): %s", argv[0], WEXITSTATUS(status),
                            line[0] ? line : "no message");
        else
            rc = fm_err_set(err, FM_EIO, "'%s' was killed by signal %d", argv[0], WTERMSIG(status));
    }
    free(eb.b);
    if (!rc && out)
        *out = ob.b ? ob.b : strdup("");
    else
        free(ob.b);
    return rc;
}

bool pkg_have_tool(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return false;
    char dir[PATH_MAX];
    for (const char *p = path; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0 && n + strlen(name) + 2 < sizeof dir) {
            snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, name);
            if (access(dir, X_OK) == 0)
                return true;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return false;
}

/* ---- files ------------------------------------------------------------------------------------
 */

int pkg_mkdirs(const char *path, fm_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return fm_err_set(err, FM_EINVAL, "path '%s' is too long", path);
    for (char *c = buf + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char keep = *c;
            *c = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return fm_err_set(err, -errno, "cannot create directory '%s': %s", buf,
                                  strerror(errno));
            *c = keep;
            if (!keep)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fm_err_set(err, FM_EINVAL, "'%s' is not a directory", path);
    return 0;
}

int pkg_copy_file(const char *src, const char *dst, unsigned mode, fm_err *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fm_err_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
    unlink(dst);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (out < 0) {
        int e = errno;
        close(in);
        return fm_err_set(err, -e, "cannot write '%s': %s", dst, strerror(e));
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fm_err_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = fm_err_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    close(in);
    if (close(out) != 0 && !rc)
        rc = fm_err_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
    if (!rc && chmod(dst, (mode_t)mode) != 0)
        rc = fm_err_set(err, -errno, "cannot chmod '%s': %s", dst, strerror(errno));
    return rc;
}

void pkg_remove_tree(const char *path)
{
    char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};
    pkg_run(NULL, argv, NULL, NULL);
}

int pkg_write_out(const char *dir, const char *name, const char *text, package_result *res,
                  fm_err *err)
{
    if (!text)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return fm_err_set(err, FM_EINVAL, "output path '%s/%s' is too long", dir, name);
    int rc = fm_write_file_atomic(path, text, strlen(text), err);
    if (!rc && res->nfiles < (int)FM_ARRAY_LEN(res->files))
        snprintf(res->files[res->nfiles++], sizeof res->files[0], "%s", path);
    return rc;
}

int pkg_self_exe(const package_opts *o, char *buf, size_t cap, fm_err *err)
{
    if (o->self_exe) {
        if (!realpath(o->self_exe, buf))
            return fm_err_set(err, -errno, "faasml binary '%s': %s", o->self_exe, strerror(errno));
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return fm_err_set(err, FM_ENOTFOUND, "cannot find the faasml binary (/proc/self/exe)");
    buf[n] = '\0';
    return 0;
}

int pkg_launcher(const package_opts *o, const char *self, char *buf, size_t cap, fm_err *err)
{
    if (o->launcher)
        snprintf(buf, cap, "%s", o->launcher);
    else {
        const char *slash = strrchr(self, '/');
        snprintf(buf, cap, "%.*s/faasml-bootstrap", slash ? (int)(slash - self) : 1,
                 slash ? self : ".");
    }
    if (access(buf, X_OK) != 0)
        return fm_err_set(err, FM_ENOTFOUND,
                          "launcher '%s': %s (it is built beside faasml as faasml-bootstrap)", buf,
                          strerror(errno));
    return 0;
}

/* ---- libraries --------------------------------------------------------------------------------
 */

static int add_lib(void *ud, const char *path)
{
    pkg_libs *l = ud;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], path) == 0)
            return 0;
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 32;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return FM_ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(path)))
        return FM_ENOMEM;
    l->n++;
    return 0;
}

int pkg_libs_of(const char *binary, pkg_libs *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    char *argv[] = {"ldd", (char *)binary, NULL};
    int rc = pkg_run(NULL, argv, &text, err);
    if (rc)
        return fm_err_prefix(err, "cannot list the libraries of '%s'", binary), rc;
    rc = package_ldd_parse(text, strlen(text), add_lib, out, err);
    free(text);
    if (rc) {
        pkg_libs_release(out);
        return rc;
    }
    for (int i = 0; i < out->n; i++) {
        const char *b = strrchr(out->v[i], '/');
        if (b && strncmp(b + 1, "ld-linux", 8) == 0)
            out->loader = out->v[i];
    }
    if (!out->loader) {
        pkg_libs_release(out);
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "'%s': ldd names no program interpreter (ld-linux): a static or "
                          "foreign binary cannot be packaged this way",
                          binary);
    }
    return 0;
}

void pkg_libs_release(pkg_libs *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- shared by the manifests and the image ------------------------------------------------- */

void pkg_k8s_name(const package_plan *p, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap < 4)
        return;
    if (!(p->name[0] >= 'a' && p->name[0] <= 'z') && !(p->name[0] >= 'A' && p->name[0] <= 'Z'))
        o = (size_t)snprintf(buf, cap, "fn-");
    for (size_t i = 0; p->name[i] && o < cap - 1; i++) {
        char c = p->name[i];
        buf[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c == '_' ? '-' : c;
    }
    while (o > 0 && buf[o - 1] == '-')
        o--; /* a DNS label ends with a letter or digit */
    buf[o] = '\0';
}

void pkg_image_ref(const package_opts *o, const package_plan *p, char *buf, size_t cap)
{
    if (o->image && *o->image) {
        snprintf(buf, cap, "%s", o->image);
        return;
    }
    char k8s[PLATFORM_NAME_MAX + 8];
    pkg_k8s_name(p, k8s, sizeof k8s);
    snprintf(buf, cap, "localhost/faasml-%s:latest", k8s);
}

cJSON *pkg_env_list(const platform_spec *s, const package_plan *p, const char *task_root,
                    bool k8s_form, bool with_model)
{
    cJSON *env = k8s_form ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!env)
        return NULL;
    char model[600];
    if (p->model_file[0])
        snprintf(model, sizeof model, "%s/%s", task_root, p->model_file);
    else
        snprintf(model, sizeof model, "%s", s->model);
    for (int i = 0; i < s->nenv + (with_model ? 1 : 0); i++) {
        const char *k = i < s->nenv ? s->env_keys[i] : "FAASML_MODEL";
        const char *v = i < s->nenv ? s->env_vals[i] : model;
        if (i < s->nenv && strcmp(k, "FAASML_MODEL") == 0)
            continue; /* the packaged model's path wins: the spec's names a host file */
        if (k8s_form) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", k);
            cJSON_AddStringToObject(e, "value", v);
            cJSON_AddItemToArray(env, e);
        } else {
            cJSON_AddStringToObject(env, k, v);
        }
    }
    return env;
}
