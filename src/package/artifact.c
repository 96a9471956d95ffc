/* The two artifacts that carry the function host itself: a Lambda zip and an OCI image. Both hold
 * the faasml binary, every library `ldd` names and the model; neither needs a file of the host.
 *
 * Zip layout (provided.al2023 unpacks it into /var/task):
 *     bootstrap        the static launcher (src/package/launcher)
 *     bootstrap.args   loader, program and the function host's arguments, one per line
 *     faasml           the binary; lib/ its libraries and loader; MODEL
 * Image layout: the binary as /var/task/bootstrap (so it runs its function host), the libraries
 * where the loader's default search finds them, the loader at its own path, CA certificates, /tmp
 * and the model in /var/task. */
#include "package_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static double mb(int64_t b)
{
    return (double)b / (1 << 20);
}

/* What goes into either artifact, resolved once. */
typedef struct pkg_parts {
    char self[4096];
    pkg_libs libs;
    int64_t bin_bytes, lib_bytes, model_bytes;
} pkg_parts;

static int parts_collect(const package_plan *p, const package_opts *o, pkg_parts *pt, fm_err *err)
{
    memset(pt, 0, sizeof *pt);
    int rc = pkg_self_exe(o, pt->self, sizeof pt->self, err);
    if (rc || (rc = pkg_libs_of(pt->self, &pt->libs, err)))
        return rc;
    pt->bin_bytes = file_size(pt->self);
    for (int i = 0; i < pt->libs.n; i++) {
        int64_t n = file_size(pt->libs.v[i]);
        if (n < 0) {
            rc = fm_err_set(err, -errno, "library '%s': %s", pt->libs.v[i], strerror(errno));
            pkg_libs_release(&pt->libs);
            return rc;
        }
        pt->lib_bytes += n;
    }
    pt->model_bytes = p->model_file[0] ? file_size(p->model_path) : 0;
    return 0;
}

/* ---- Lambda zip ------------------------------------------------------------------------------ */

int pkg_build_zip(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err)
{
    if (!pkg_have_tool("zip"))
        return fm_err_set(err, FM_ENOTFOUND,
                          "lambda-zip: 'zip' is not on PATH (scripts/install-deps.sh installs it)");
    char launcher[4096];
    pkg_parts pt;
    int rc = parts_collect(p, o, &pt, err);
    if (rc)
        return rc;
    if ((rc = pkg_launcher(o, pt.self, launcher, sizeof launcher, err)))
        goto out;
    int64_t launcher_bytes = file_size(launcher);
    int64_t total = pt.bin_bytes + pt.lib_bytes + pt.model_bytes + launcher_bytes;
    int64_t limit =
        o->zip_limit_bytes > 0 ? o->zip_limit_bytes : p->lim.lambda_unzipped_max_mb << 20;
    res->unzipped_bytes = total;
    /* Checked before anything is copied: the sizes alone decide. */
    if (total > limit) {
        rc = fm_err_set(err, FM_ELIMIT,
                        "%s: package is %.1f MB unzipped, %.1f MB over Lambda's %.0f MB limit "
                        "(model '%s' %.1f MB, faasml and %d libraries %.1f MB); use "
                        "--format oci for a container image (%.0f MB limit)",
                        s->name, mb(total), mb(total - limit), mb(limit), p->model_file,
                        mb(pt.model_bytes), pt.libs.n, mb(pt.bin_bytes + pt.lib_bytes),
                        (double)p->lim.lambda_image_max_mb);
        goto out;
    }
    char stage[4096], path[4096 + 300], zip[4096 + 80];
    snprintf(stage, sizeof stage, "%s/.%s.zip.d", o->out_dir, p->name);
    snprintf(zip, sizeof zip, "%s/%s.zip", o->out_dir, p->name);
    pkg_remove_tree(stage);
    snprintf(path, sizeof path, "%s/lib", stage);
    if ((rc = pkg_mkdirs(path, err)))
        goto out;
    snprintf(path, sizeof path, "%s/bootstrap", stage);
    if ((rc = pkg_copy_file(launcher, path, 0755, err)))
        goto clean;
    snprintf(path, sizeof path, "%s/faasml", stage);
    if ((rc = pkg_copy_file(pt.self, path, 0755, err)))
        goto clean;
    for (int i = 0; i < pt.libs.n; i++) {
        snprintf(path, sizeof path, "%s/lib/%s", stage, base_name(pt.libs.v[i]));
        if ((rc = pkg_copy_file(pt.libs.v[i], path, 0755, err)))
            goto clean;
    }
    if (p->model_file[0]) {
        snprintf(path, sizeof path, "%s/%s", stage, p->model_file);
        if ((rc = pkg_copy_file(p->model_path, path, 0644, err)))
            goto clean;
    }
    /* bootstrap.args: the loader, the program, then the host's arguments (the program runs as
     * `bootstrap`, so it is the function host without a command word). */
    size_t cap = 8192, n = 0;
    char *args = malloc(cap);
    if (!args) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto clean;
    }
    n += (size_t)snprintf(args + n, cap - n, "lib/%s\nfaasml\n", base_name(pt.libs.loader));
    if (p->model_file[0])
        n += (size_t)snprintf(args + n, cap - n, "--model\n%s\n", p->model_file);
    else
        n += (size_t)snprintf(args + n, cap - n, "--model\n%s\n", s->model);
    for (int i = 0; i < p->nargs && n < cap; i++) {
        if (strchr(p->args[i], '\n')) {
            free(args);
            rc = fm_err_set(err, FM_EINVAL, "%s: argument '%s' holds a newline", s->name,
                            p->args[i]);
            goto clean;
        }
        n += (size_t)snprintf(args + n, cap - n, "%s\n", p->args[i]);
    }
    if (n >= cap) {
        free(args);
        rc = fm_err_set(err, FM_ELIMIT, "%s: the host's arguments exceed 8 KB", s->name);
        goto clean;
    }
    snprintf(path, sizeof path, "%s/bootstrap.args", stage);
    rc = fm_write_file_atomic(path, args, n, err);
    free(args);
    if (rc)
        goto clean;
    unlink(zip);
    /* -X: no extra attributes, so the same inputs give the same archive bytes. */
    char zip_abs[4096 + 80];
    if (o->out_dir[0] == '/')
        snprintf(zip_abs, sizeof zip_abs, "%s", zip);
    else {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd)) {
            rc = fm_err_set(err, -errno, "getcwd: %s", strerror(errno));
            goto clean;
        }
        snprintf(zip_abs, sizeof zip_abs, "%s/%s", cwd, zip);
    }
    char *zargv[] = {"zip", "-q", "-r", "-X", zip_abs, ".", NULL};
    if ((rc = pkg_run(stage, zargv, NULL, err))) {
        fm_err_prefix(err, "%s: cannot write '%s'", s->name, zip);
        goto clean;
    }
    res->zip_bytes = file_size(zip);
    snprintf(res->files[res->nfiles++], sizeof res->files[0], "%s", zip);
    pkg_log(o,
            "wrote %s: %.1f MB zipped, %.1f MB unzipped (%.1f MB under Lambda's %.0f MB "
            "limit): bootstrap, faasml, %d libraries, %s",
            zip, mb(res->zip_bytes), mb(total), mb(limit - total), mb(limit), pt.libs.n,
            p->model_file[0] ? p->model_file : s->model);
clean:
    pkg_remove_tree(stage);
out:
    pkg_libs_release(&pt.libs);
    return rc;
}

/* ---- OCI image ------------------------------------------------------------------------------- */

/* Copies src to root + dest_path, making its directories. */
static int put_file(const char *root, const char *dest, const char *src, unsigned mode, fm_err *err)
{
    char path[8192];
    snprintf(path, sizeof path, "%s%s", root, dest);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = pkg_mkdirs(path, err);
    *slash = '/';
    return rc ? rc : pkg_copy_file(src, path, mode, err);
}

/* A Containerfile ENV line: key="value" with JSON escapes, which the builders read back. */
static void env_line(FILE *f, const char *k, const char *v)
{
    char q[2048];
    fm_json_quote(q, sizeof q, v);
    fprintf(f, "ENV %s=%s\n", k, q);
}

int pkg_build_oci(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err)
{
    const char *builder = o->builder;
    if (builder && !pkg_have_tool(builder))
        return fm_err_set(err, FM_ENOTFOUND, "oci: builder '%s' is not on PATH", builder);
    if (!builder)
        builder = pkg_have_tool("buildah") ? "buildah" : pkg_have_tool("podman") ? "podman" : NULL;
    if (!builder)
        return fm_err_set(err, FM_ENOTFOUND,
                          "oci: no image builder: neither 'buildah' nor 'podman' is on PATH "
                          "(scripts/install-deps.sh installs both)");
    pkg_parts pt;
    int rc = parts_collect(p, o, &pt, err);
    if (rc)
        return rc;
    char ctx[4096], root[4096 + 16], path[8192];
    snprintf(ctx, sizeof ctx, "%s/oci", o->out_dir);
    pkg_remove_tree(ctx);
    snprintf(root, sizeof root, "%s/rootfs", ctx);
    /* The loader's default search covers the directory libc lives in, so every library goes
     * there; the loader itself keeps the path the binary names (PT_INTERP). */
    char libdir[1024] = "/lib";
    for (int i = 0; i < pt.libs.n; i++)
        if (strcmp(base_name(pt.libs.v[i]), "libc.so.6") == 0) {
            snprintf(libdir, sizeof libdir, "%.*s",
                     (int)(base_name(pt.libs.v[i]) - pt.libs.v[i] - 1), pt.libs.v[i]);
        }
    if ((rc = put_file(root, "/var/task/bootstrap", pt.self, 0755, err)))
        goto out;
    for (int i = 0; i < pt.libs.n && !rc; i++) {
        if (pt.libs.v[i] == pt.libs.loader)
            rc = put_file(root, pt.libs.loader, pt.libs.loader, 0755, err);
        else {
            snprintf(path, sizeof path, "%s/%s", libdir, base_name(pt.libs.v[i]));
            rc = put_file(root, path, pt.libs.v[i], 0755, err);
        }
    }
    if (rc)
        goto out;
    if (p->model_file[0]) {
        snprintf(path, sizeof path, "/var/task/%s", p->model_file);
        if ((rc = put_file(root, path, p->model_path, 0644, err)))
            goto out;
    }
    if (access(CA_BUNDLE, R_OK) == 0)
        rc = put_file(root, CA_BUNDLE, CA_BUNDLE, 0644, err);
    else
        pkg_log(o,
                "oci: no %s on this host: the image has no CA certificates (https model "
                "URLs will fail)",
                CA_BUNDLE);
    snprintf(path, sizeof path, "%s/tmp", root);
    if (rc || (rc = pkg_mkdirs(path, err)))
        goto out;
    chmod(path, 01777);

    snprintf(path, sizeof path, "%s/Containerfile", ctx);
    FILE *f = fopen(path, "w");
    if (!f) {
        rc = fm_err_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    fprintf(f,
            "# faasml package --format oci: function '%s'. One image, three contracts:\n"
            "#   Lambda container image: AWS_LAMBDA_RUNTIME_API set -> Runtime API client\n"
            "#   Knative / KServe: PORT set -> KServe v2 on 0.0.0.0:$PORT\n"
            "#   SageMaker: `serve` argument -> /ping and /invocations on 0.0.0.0:8080\n"
            "FROM scratch\nCOPY rootfs/ /\n",
            s->name);
    env_line(f, "LAMBDA_TASK_ROOT", "/var/task");
    env_line(f, "FAASML_HOST", "0.0.0.0"); /* $PORT mode: the pod's address, not only loopback */
    cJSON *env = pkg_env_list(s, p, "/var/task", false, true);
    for (const cJSON *e = env ? env->child : NULL; e; e = e->next) {
        if (strpbrk(e->valuestring, "\n\r")) { /* a Containerfile ENV line cannot hold one */
            rc = fm_err_set(err, FM_EINVAL, "%s: environment variable '%s' holds a line break",
                            s->name, e->string);
            break;
        }
        env_line(f, e->string, e->valuestring);
    }
    cJSON_Delete(env);
    if (rc) {
        fclose(f);
        goto out;
    }
    cJSON *ep = cJSON_CreateArray();
    cJSON_AddItemToArray(ep, cJSON_CreateString("/var/task/bootstrap"));
    for (int i = 0; i < p->nargs; i++)
        cJSON_AddItemToArray(ep, cJSON_CreateString(p->args[i]));
    char *ept = cJSON_PrintUnformatted(ep);
    cJSON_Delete(ep);
    fprintf(f, "WORKDIR /var/task\nEXPOSE 8080\nENTRYPOINT %s\n", ept ? ept : "[]");
    free(ept);
    if (fclose(f) != 0) {
        rc = fm_err_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    pkg_image_ref(o, p, res->image, sizeof res->image);
    pkg_log(o, "oci: building %s with %s from %s (faasml, %d libraries, %s)", res->image, builder,
            ctx, pt.libs.n, p->model_file[0] ? p->model_file : s->model);
    char *bud[] = {(char *)builder,
                   strcmp(builder, "buildah") == 0 ? "bud" : "build",
                   "--layers=false",
                   "-f",
                   path,
                   "-t",
                   res->image,
                   ctx,
                   NULL};
    if ((rc = pkg_run(NULL, bud, NULL, err))) {
        fm_err_prefix(err, "oci: cannot build '%s'", res->image);
        goto out;
    }
    snprintf(res->files[res->nfiles++], sizeof res->files[0], "%s", path);
    platform_podman pm;
    platform_podman_detect(&pm);
    snprintf(res->run_flags, sizeof res->run_flags, "%s", pm.flags);
    pkg_log(o, "oci: built %s (%.1f MB of files); podman run here needs: %s (%s)", res->image,
            mb(pt.bin_bytes + pt.lib_bytes + pt.model_bytes),
            res->run_flags[0] ? res->run_flags : "nothing extra", pm.why);
out:
    pkg_libs_release(&pt.libs);
    return rc;
}
