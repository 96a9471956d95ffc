/* faasml --version: what this binary is built from and what it runs with, so a measurement can
 * name its build (commit, compiler, build type), the libraries it loaded (their runtime versions,
 * which may differ from the headers it was compiled against) and the CPU features in use. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dnnl.h>
#include <event2/event.h>
#include <jpeglib.h>
#include <png.h>
#include <sqlite3.h>
#include <yaml.h>

#include "fm_commit.h"

#ifndef FM_BUILD_TYPE
#define FM_BUILD_TYPE "unknown"
#endif

/* Why a table: the features the kernels (oneDNN, XNNPACK, OpenBLAS) dispatch on, named as the
 * compiler's cpu-feature probe names them; one line lists those this CPU has. */
static void cpu_features(FILE *out)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    fprintf(out, "cpu:");
#define FEAT(name)                                                                                 \
    if (__builtin_cpu_supports(name))                                                              \
        fprintf(out, " %s", name);
    FEAT("sse4.2")
    FEAT("avx")
    FEAT("avx2")
    FEAT("fma")
    FEAT("avx512f")
    FEAT("avx512bw")
    FEAT("avx512vl")
    FEAT("avx512vnni")
    FEAT("avx512bf16")
#undef FEAT
    fputc('\n', out);
#else
    fprintf(out, "cpu: (feature probe not built for this architecture)\n");
#endif
}

void cli_print_version(FILE *out)
{
    fprintf(out, "faasml %s\n", FM_VERSION);
    fprintf(out, "commit: %s\n", FM_COMMIT);
    fprintf(out, "build: %s, %s %s\n", FM_BUILD_TYPE,
#if defined(__clang__)
            "clang",
#else
            "gcc",
#endif
            __VERSION__);
    const dnnl_version_t *dv = dnnl_version();
    fprintf(out,
            "libraries:\n  sqlite %s\n  libcurl %s\n  libevent %s\n  cJSON %s\n  libyaml %s\n"
            "  libpng %s\n  libjpeg %d (API)\n  oneDNN %d.%d.%d\n  OpenBLAS (%s)\n"
            "  XNNPACK (no version reported)\n",
            sqlite3_libversion(), curl_version_info(CURLVERSION_NOW)->version, event_get_version(),
            cJSON_Version(), yaml_get_version_string(), png_get_libpng_ver(NULL), JPEG_LIB_VERSION,
            dv->major, dv->minor, dv->patch, openblas_get_config());
    cpu_features(out);
}
