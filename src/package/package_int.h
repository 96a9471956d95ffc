/* Private to the package module: the helpers its formats share (child processes, files, the
 * libraries a binary needs) and one builder per format. */
#ifndef FM_PACKAGE_INT_H
#define FM_PACKAGE_INT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "package.h"

/* Logs one line through o->log (printf-style). */
void pkg_log(const package_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs argv[0] (found on PATH) in cwd (NULL: this one) and waits. out (may be NULL) receives its
 * stdout, malloc'd and NUL-terminated. A failure to start, a signal or a non-zero exit is an error
 * quoting the tool's last stderr line. */
int pkg_run(const char *cwd, char *const argv[], char **out, fm_err *err);
/* Whether an executable named name is on PATH. */
bool pkg_have_tool(const char *name);

/* mkdir -p (mode 0755). */
int pkg_mkdirs(const char *path, fm_err *err);
/* Copies a regular file's bytes (following symlinks) and gives the copy mode. */
int pkg_copy_file(const char *src, const char *dst, unsigned mode, fm_err *err);
/* rm -rf of a directory this module made. */
void pkg_remove_tree(const char *path);
/* Writes text to dir/name and records the path in res. */
int pkg_write_out(const char *dir, const char *name, const char *text, package_result *res,
                  fm_err *err);
/* The faasml binary and its launcher, resolved from the options. */
int pkg_self_exe(const package_opts *o, char *buf, size_t cap, fm_err *err);
int pkg_launcher(const package_opts *o, const char *self, char *buf, size_t cap, fm_err *err);

/* The shared libraries of a binary, as `ldd` names them, the loader included. */
typedef struct pkg_libs {
    char **v;
    int n, cap;
    char *loader; /* the program interpreter among v (borrowed from v) */
} pkg_libs;
int pkg_libs_of(const char *binary, pkg_libs *out, fm_err *err);
void pkg_libs_release(pkg_libs *l);

/* The image reference: o->image or "localhost/faasml-<name>:latest". */
void pkg_image_ref(const package_opts *o, const package_plan *p, char *buf, size_t cap);
/* The environment an artifact carries: the spec's variables, then (with_model) FAASML_MODEL at
 * task_root. k8s_form: [{name, value}] as Kubernetes writes it; else {name: value}. */
cJSON *pkg_env_list(const platform_spec *s, const package_plan *p, const char *task_root,
                    bool k8s_form, bool with_model);
/* A Kubernetes object name for the function (DNS-1035: lowercase, '-', a letter first). */
void pkg_k8s_name(const package_plan *p, char *buf, size_t cap);

/* cJSON tree as block YAML: maps and lists nest by indentation, every scalar is written as a JSON
 * scalar (a quoted string, a number, true/false/null), which YAML reads back unchanged. */
char *pkg_yaml_print(const cJSON *root);

/* One builder per format. */
int pkg_build_zip(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err);
int pkg_build_oci(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err);
int pkg_build_knative(const platform_spec *s, const package_plan *p, const package_opts *o,
                      package_result *res, fm_err *err);
int pkg_build_kserve(const platform_spec *s, const package_plan *p, const package_opts *o,
                     package_result *res, fm_err *err);
int pkg_build_sagemaker(const platform_spec *s, const package_plan *p, const package_opts *o,
                        package_result *res, fm_err *err);
int pkg_build_sam(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err);

#endif
