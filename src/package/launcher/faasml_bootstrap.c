/* faasml-bootstrap: the `bootstrap` of a Lambda zip made by `faasml package --format lambda-zip`.
 *
 * A zip must run on a machine that has none of this host's files (AWS Lambda's provided.al2023,
 * or an empty chroot): the faasml binary's glibc, its loader and every other library travel in
 * lib/, and this launcher, linked statically so it needs no loader itself, starts the binary
 * through the bundled loader with lib/ as the only library path:
 *
 *     DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib --argv0 bootstrap DIR/faasml ARGS...
 *
 * DIR is the launcher's own directory (/proc/self/exe, else argv[0], else $LAMBDA_TASK_ROOT). The
 * loader, the program and ARGS come from DIR/bootstrap.args, one per line, in that order; relative
 * paths are relative to DIR, which becomes the working directory (Lambda's is /var/task, the
 * zip's root, anyway). The environment passes through unchanged. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 80

static int fail(const char *what, const char *subject)
{
    fprintf(stderr, "faasml-bootstrap: %s '%s': %s\n", what, subject, strerror(errno));
    return 127;
}

/* Why: /proc may be missing (a chroot holding only the zip); argv[0] then still names the file. */
static void own_dir(const char *argv0, char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n > 0)
        dir[n] = '\0';
    else if (strchr(argv0, '/'))
        snprintf(dir, cap, "%s", argv0);
    else if (getenv("LAMBDA_TASK_ROOT")) {
        snprintf(dir, cap, "%s/bootstrap", getenv("LAMBDA_TASK_ROOT"));
    } else
        snprintf(dir, cap, "./bootstrap");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0'; /* "/bootstrap" leaves "": paths below become "/lib/..." */
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    own_dir(argc > 0 ? argv[0] : "bootstrap", dir, sizeof dir);
    if (chdir(dir[0] ? dir : "/") != 0)
        return fail("cannot enter", dir[0] ? dir : "/");
    snprintf(path, sizeof path, "%s/bootstrap.args", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("cannot read", path);
    static char lines[MAX_ARGS][PATH_MAX];
    int n = 0;
    while (n < MAX_ARGS && fgets(lines[n], sizeof lines[n], f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        n++;
    }
    fclose(f);
    if (n < 2) {
        fprintf(stderr, "faasml-bootstrap: '%s' must name the loader and the program\n", path);
        return 127;
    }
    static char loader[PATH_MAX + 32], libdir[PATH_MAX + 32], prog[PATH_MAX + 32];
    snprintf(loader, sizeof loader, "%s%s%s", lines[0][0] == '/' ? "" : dir,
             lines[0][0] == '/' ? "" : "/", lines[0]);
    snprintf(libdir, sizeof libdir, "%s/lib", dir);
    snprintf(prog, sizeof prog, "%s%s%s", lines[1][0] == '/' ? "" : dir,
             lines[1][0] == '/' ? "" : "/", lines[1]);
    char *nargv[MAX_ARGS + 64];
    int k = 0;
    nargv[k++] = loader;
    nargv[k++] = "--library-path";
    nargv[k++] = libdir;
    nargv[k++] = "--argv0";
    nargv[k++] = "bootstrap"; /* faasml runs its function host when called bootstrap */
    nargv[k++] = prog;
    for (int i = 2; i < n; i++)
        nargv[k++] = lines[i];
    for (int i = 1; i < argc && k < (int)(sizeof nargv / sizeof nargv[0]) - 1; i++)
        nargv[k++] = argv[i];
    nargv[k] = NULL;
    execv(loader, nargv);
    return fail("cannot run", loader);
}
