/* The layering check (scripts/check_structure.sh): the source tree passes it, and a tree with
 * one include of each forbidden kind fails it, each named. */
#include <sys/stat.h>

#include "harness.h"

/* Runs the check on `root`; returns its exit status and its output in *out (malloc'ed). */
static int check(const char *root, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sh '%s/scripts/check_structure.sh' '%s' 2>&1", SC_SOURCE_DIR, root);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t cap = 1 << 16, n = 0;
    *out = malloc(cap);
    while (n + 1 < cap && fgets(*out + n, (int)(cap - n), p)) n += strlen(*out + n);
    (*out)[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *rel, const char *text)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", test_path(rel));
    for (char *s = dir + strlen(test_tmpdir()) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(dir, 0755);
        *s = '/';
    }
    test_write(test_path(rel), text, strlen(text));
}

TEST(structure_the_source_tree_keeps_its_layers)
{
    char *out;
    const int st = check(SC_SOURCE_DIR, &out);
    CHECK_MSG(st == 0 && strstr(out, " 0 violations"), "exit %d:\n%s", st, out);
    free(out);
}

TEST(structure_check_names_every_include_that_runs_back_up)
{
    put("include/smoothcache.h", "#include \"core/error.h\"\n");
    put("src/cache/registry.c", "#define CACHE_POLICIES(X) \\\n    X(fora)         \\\n    X(teacache)\n");
    put("src/cache/fora.c", "#include \"models/model.h\"\n");
    put("src/cache/teacache.c", "#include \"io/json.h\"\n#include \"cache/policy.h\"\n");
    put("src/cache/errors.c", "#include \"io/json.h\"\n"); /* allowed: not a policy */
    put("src/cache/kernels.c", "#include \"backend/cpu/kernels.h\"\n");
    put("src/core/mem.c", "#include <stdlib.h>\n#include \"io/file.h\"\n");
    put("src/models/dit/load.c", "#include \"models/model.h\"\n#include \"models/sdvae/sdvae.h\"\n");
    put("src/cli/main.c", "#include \"smoothcache.h\"\n#include \"io/file.h\"\n");
    char *out;
    const int st = check(test_tmpdir(), &out);
    CHECK_MSG(st == 1 && strstr(out, "structure: 9 files, 7 violations"), "exit %d:\n%s", st, out);
    static const char *want[] = {
        "include/smoothcache.h: includes core/error.h (a public header includes only public headers)",
        "src/cache/fora.c: includes models/model.h (src/cache may include core, backend, io, cache",
        "src/cache/teacache.c: includes io/json.h (a cache policy file includes only cache/ and core/ headers)",
        "src/cache/kernels.c: includes backend/cpu/kernels.h (a backend implementation is reached through",
        "src/core/mem.c: includes io/file.h (src/core may include core and include/)",
        "src/models/dit/load.c: includes models/sdvae/sdvae.h (a model family's headers are its own folder's",
        "src/cli/main.c: includes io/file.h (src/cli may include cli and include/)",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) CHECK_MSG(strstr(out, want[i]), "missing: %s\n%s", want[i], out);
    CHECK(!strstr(out, "src/cache/errors.c"));
    free(out);
}
