/* Replays every fuzzer reproducer kept under tests/regress/<target>/ through its parser. */
#include <dirent.h>

#include "cache/errors.h"
#include "cache/run.h"
#include "cache/schedule.h"
#include "core/mem.h"
#include "harness.h"
#include "io/file.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "models/dit/dit.h"

/* DiT's components, as a schedule for it is read. */
static const cache_comps k_dit = {.n = 2, .name = {"attn", "mlp"}, .aliases = {"attn1", "ff"}};

static void feed(const char *target, const uint8_t *d, size_t n)
{
    if (!strcmp(target, "safetensors") || !strcmp(target, "torchzip")) {
        st_file *f;
        sc_status s = target[0] == 's' ? st_parse(d, n, "regress", &f) : torch_parse(d, n, "regress", &f);
        if (!s) st_close(f);
    } else if (!strcmp(target, "npy")) {
        npy_array a;
        if (!npy_parse(d, n, "regress", &a)) npy_free(&a);
    } else if (!strcmp(target, "json")) {
        json_t *j;
        if (json_parse((const char *)d, n, "regress", &j)) return;
        dit_config c;
        dit_config_from_object(&c, j, "regress");
        cache_schedule s;
        if (!schedule_alloc(&s, 28, 50, &k_dit)) {
            schedule_from_json(j, "regress", "regress", &s);
            schedule_free(&s);
        }
        cache_errors e;
        if (!errors_from_object(j, "regress", &e)) errors_free(&e);
        json_decref(j);
    } else if (!strcmp(target, "cache_spec")) {
        char *t = calloc(1, n + 1);
        memcpy(t, d, n);
        cache_run *r;
        if (!strstr(t, "schedule=") && !strstr(t, "errors=") && !cache_run_create(t, &r)) cache_run_free(r);
        free(t);
    }
}

TEST(regress_fuzzer_reproducers_are_handled_without_crashing)
{
    static const char *targets[] = {"safetensors", "torchzip", "npy", "json", "cache_spec"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/tests/regress/%s", SC_SOURCE_DIR, targets[i]);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            file_mapping m;
            if (file_map(p, &m) != SC_OK) continue;
            feed(targets[i], m.data, m.size);
            file_unmap(&m);
        }
        closedir(d);
    }
}
