/* Sharded sampling (docs/SCALE.md): shards merged equal the one-process run byte for byte for
 * any shard count; merge refuses what is missing, doubled, foreign or incomplete; a rerun skips
 * complete shards and replaces what a killed one left; shard detection from launchers'
 * environments; the manifest parser's strictness. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "io/shard.h"
#include "smoothcache_tools.h"


static int same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = test_read(a, &na), *y = test_read(b, &nb);
    const int same = na == nb && !memcmp(x, y, na);
    free(x), free(y);
    return same;
}

/* 11 images in batches of 3 (4 batches, the last short), 4 steps: the run every test shards. */
#define RUN "sample --num 11 --batch 3 --steps 4 --seed 5 --threads 1 --quiet"

static const char *shard_file(const char *stem, int i, int n, const char *ext)
{
    static char buf[16][4096];
    static int k;
    char *b = buf[k++ % 16];
    snprintf(b, sizeof buf[0], "%s/%s.shard-%05d-of-%05d.%s", test_tmpdir(), stem, i, n, ext);
    return b;
}

static void run_shards(const char *stem, int n)
{
    for (int i = 0; i < n; i++) CHECK_CLI(0, "", RUN " --out %s/%s.npz --shard %d/%d", test_tmpdir(), stem, i, n);
}

TEST(shard_merged_runs_equal_the_one_process_run_for_any_count)
{
    CHECK_CLI(0, "", RUN " --out %s/one.npz", test_tmpdir());
    for (int n = 1; n <= 4; n++) {
        char stem[16], merged[4096];
        snprintf(stem, sizeof stem, "n%d", n);
        if (n == 1) {
            /* --shard 0/1 is the one-process run itself: no manifest, the plain output. */
            CHECK_CLI(0, "", RUN " --out %s/n1.npz --shard 0/1", test_tmpdir());
            CHECK(same_bytes(test_path("one.npz"), test_path("n1.npz")));
            continue;
        }
        run_shards(stem, n);
        snprintf(merged, sizeof merged, "%s/merged%d.npz", test_tmpdir(), n);
        char list[8192] = "";
        for (int i = 0; i < n; i++) {
            strcat(list, " ");
            strcat(list, shard_file(stem, i, n, "npz"));
        }
        CHECK_CLI(0, "11 images", "merge %s%s", merged, list);
        CHECK_MSG(same_bytes(test_path("one.npz"), merged), "%d shards merged differ from the one-process run", n);
    }
    /* 4 batches over 5 shards: one shard has nothing to do, and says so. */
    CHECK_CLI(0, "has no images", "sample --num 11 --batch 3 --steps 4 --out %s/e.npz --shard 0/5", test_tmpdir());
}

TEST(shard_merge_refuses_missing_doubled_foreign_and_incomplete_shards)
{
    run_shards("r", 3);
    const char *a = shard_file("r", 0, 3, "npz"), *b = shard_file("r", 1, 3, "npz"), *c = shard_file("r", 2, 3, "npz");
    CHECK_CLI(1, "images 3..5 of 11 are in no shard given", "merge %s/x.npz %s %s", test_tmpdir(), a, c);
    CHECK_CLI(1, "images 6..10 of 11 are in no shard given", "merge %s/x.npz %s %s", test_tmpdir(), a, b);
    CHECK_CLI(1, "both hold images 3..5", "merge %s/x.npz %s %s %s %s", test_tmpdir(), a, b, b, c);
    /* The same range from a run with other steps. */
    CHECK_CLI(0, "", "sample --num 11 --batch 3 --steps 3 --seed 5 --threads 1 --quiet --out %s/o.npz --shard 1/3",
              test_tmpdir());
    CHECK_CLI(1, "steps 4 against 3", "merge %s/x.npz %s %s %s", test_tmpdir(), a, shard_file("o", 1, 3, "npz"), c);
    /* Another seed: same settings otherwise. */
    CHECK_CLI(0, "", "sample --num 11 --batch 3 --steps 4 --seed 6 --threads 1 --quiet --out %s/s.npz --shard 1/3",
              test_tmpdir());
    CHECK_CLI(1, "seed 5 against 6", "merge %s/x.npz %s %s %s", test_tmpdir(), a, shard_file("s", 1, 3, "npz"), c);
    /* A manifest that says incomplete, one that is missing, a shard whose array lies. */
    size_t n;
    char *m = test_read(shard_file("r", 1, 3, "json"), &n);
    char *p = strstr(m, "\"complete\": true");
    CHECK(p);
    char *edited = malloc(n + 8);
    snprintf(edited, n + 8, "%.*s\"complete\": false%s", (int)(p - m), m, p + strlen("\"complete\": true"));
    test_write(shard_file("r", 1, 3, "json"), edited, strlen(edited));
    CHECK_CLI(1, "the shard is not complete", "merge %s/x.npz %s %s %s", test_tmpdir(), a, b, c);
    remove(shard_file("r", 1, 3, "json"));
    CHECK_CLI(1, "cannot open", "merge %s/x.npz %s %s %s", test_tmpdir(), a, b, c);
    test_write(shard_file("r", 1, 3, "json"), m, n);
    size_t nz;
    char *z = test_read(shard_file("s", 1, 3, "npz"), &nz); /* 3 images, right size, other bytes: accepted */
    test_write(shard_file("r", 2, 3, "npz"), z, nz);          /* 3 images where 5 are due: refused */
    CHECK_CLI(1, "arr_0 is not uint8 [5, 32, 32, 3]", "merge %s/x.npz %s %s %s", test_tmpdir(), a, b, c);
    CHECK(access(test_path("x.npz"), F_OK) != 0);
    free(m), free(edited), free(z);
    CHECK_CLI(2, "expected OUT.npz and at least one SHARD.npz", "merge %s/x.npz", test_tmpdir());
    CHECK_CLI(2, "OUT: '", "merge %s/x.png %s", test_tmpdir(), a);
    CHECK_CLI(2, "is also given as a shard", "merge %s %s", a, a);
    CHECK_CLI(2, "a shard is a .npz file", "merge %s/x.npz %s", test_tmpdir(), shard_file("r", 0, 3, "json"));
    CHECK_CLI(2, "--shards", RUN " --out %s/z.npz --shards 0", test_tmpdir());
    CHECK_CLI(2, "--out: '", RUN " --out %s/z.png --shard 0/2", test_tmpdir());
}

TEST(shard_reruns_skip_complete_shards_and_replace_leftovers)
{
    CHECK_CLI(0, "", RUN " --out %s/one.npz", test_tmpdir());
    /* Shards 0 and 1 done; shard 2 "killed" after its .npz was renamed into place but before its
     * manifest was written (a .npz without a manifest). */
    CHECK_CLI(0, "", RUN " --out %s/k.npz --shard 0/3", test_tmpdir());
    CHECK_CLI(0, "", RUN " --out %s/k.npz --shard 1/3", test_tmpdir());
    test_write(shard_file("k", 2, 3, "npz"), "partial", 7);
    for (int i = 0; i < 3; i++) {
        const int r = test_clif("sample --num 11 --batch 3 --steps 4 --seed 5 --threads 1 --out %s/k.npz --shard %d/3",
                          test_tmpdir(), i);
        CHECK_MSG(r == 0, "rerun of shard %d: exit %d\n%s", i, r, test_cli_output);
        CHECK_MSG((i < 2) == (strstr(test_cli_output, "already complete") != NULL), "shard %d:\n%s", i, test_cli_output);
    }
    CHECK_CLI(0, "", "merge %s/k2.npz %s %s %s", test_tmpdir(), shard_file("k", 0, 3, "npz"), shard_file("k", 1, 3, "npz"),
              shard_file("k", 2, 3, "npz"));
    CHECK(same_bytes(test_path("one.npz"), test_path("k2.npz")));
    /* Another run's manifest under the same name is not replaced without --force. */
    CHECK_CLI(1, "another run's manifest (steps 4 against 3)",
              "sample --num 11 --batch 3 --steps 3 --seed 5 --threads 1 --out %s/k.npz --shard 1/3", test_tmpdir());
}

TEST(shard_detection_reads_the_launchers_environment)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                                 "SLURM_PROCID", "SLURM_NTASKS", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
                                 "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    sc_shard s;
    CHECK_OK(sc_shard_detect(NULL, 0, &s));
    CHECK(s.index == 0 && s.count == 1 && !s.source);
    CHECK_OK(sc_shard_detect("2/5", 0, &s));
    CHECK(s.index == 2 && s.count == 5 && !strcmp(s.source, "--shard"));
    CHECK_ERR(sc_shard_detect("5/5", 0, &s), SC_ERR_ARG, "--shard: '5/5' is not I/N");
    CHECK_ERR(sc_shard_detect("1", 0, &s), SC_ERR_ARG, "is not I/N");
    CHECK_ERR(sc_shard_detect("-1/3", 0, &s), SC_ERR_ARG, "is not I/N");
    setenv("SLURM_ARRAY_TASK_ID", "7", 1), setenv("SLURM_ARRAY_TASK_COUNT", "4", 1), setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
    CHECK_OK(sc_shard_detect(NULL, 0, &s));
    CHECK(s.index == 2 && s.count == 4 && !strcmp(s.source, "Slurm array"));
    setenv("SLURM_ARRAY_TASK_ID", "9", 1);
    CHECK_ERR(sc_shard_detect(NULL, 0, &s), SC_ERR_ARG, "$SLURM_ARRAY_TASK_ID is '9': not in 5..8");
    setenv("SLURM_PROCID", "1", 1), setenv("SLURM_NTASKS", "2", 1); /* tasks win over the array */
    CHECK_OK(sc_shard_detect(NULL, 0, &s));
    CHECK(s.index == 1 && s.count == 2 && !strcmp(s.source, "Slurm tasks"));
    setenv("OMPI_COMM_WORLD_RANK", "0", 1), setenv("OMPI_COMM_WORLD_SIZE", "3", 1); /* MPI wins over Slurm */
    CHECK_OK(sc_shard_detect(NULL, 0, &s));
    CHECK(s.index == 0 && s.count == 3 && !strcmp(s.source, "OpenMPI"));
    CHECK_OK(sc_shard_detect("1/2", 0, &s)); /* and --shard over all */
    CHECK(s.index == 1 && s.count == 2);
    setenv("OMPI_COMM_WORLD_SIZE", "x", 1);
    CHECK_ERR(sc_shard_detect(NULL, 0, &s), SC_ERR_ARG, "$OMPI_COMM_WORLD_SIZE is 'x'");
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    setenv("JOB_COMPLETION_INDEX", "3", 1);
    CHECK_ERR(sc_shard_detect(NULL, 0, &s), SC_ERR_ARG, "give --shards N");
    CHECK_OK(sc_shard_detect(NULL, 4, &s));
    CHECK(s.index == 3 && s.count == 4 && !strcmp(s.source, "Kubernetes"));
    CHECK_ERR(sc_shard_detect(NULL, 3, &s), SC_ERR_ARG, "not a task index in 0..2");
    unsetenv("JOB_COMPLETION_INDEX");
    /* The split: whole batches, every image once. */
    uint64_t b, e, next = 0;
    for (int i = 0; i < 7; i++) {
        sc_shard_range(100, 8, i, 7, &b, &e);
        CHECK(b == next && b % 8 == 0 && e >= b);
        next = e;
    }
    CHECK(next == 100);
}

/* A valid manifest with one key's text replaced. */
static void reject_manifest(const char *from, const char *to, const char *needle)
{
    const char *good = "{\"format\": \"smoothcache-shard\", \"version\": 1, \"shard\": 1, \"shards\": 2, \"begin\": 6,"
                       " \"end\": 11, \"count\": 5, \"num\": 11, \"batch\": 3, \"seed\": \"5\", \"steps\": 4,"
                       " \"sampler\": \"ddim\", \"cfg\": 1.5, \"cache\": \"\", \"dtype\": \"f32\", \"side\": 32,"
                       " \"model\": \"m\", \"model_fingerprint\": \"0123456789abcdef\", \"vae_fingerprint\": \"\","
                       " \"complete\": true}";
    char text[2048];
    const char *p = from ? strstr(good, from) : NULL;
    CHECK(!from || p);
    if (p) snprintf(text, sizeof text, "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    else snprintf(text, sizeof text, "%s", good);
    test_write(test_path("m.json"), text, strlen(text));
    shard_manifest m;
    if (!needle) {
        CHECK_OK(shard_manifest_read(test_path("m.json"), &m));
        CHECK(m.begin == 6 && m.end == 11 && m.seed == 5 && m.complete);
        return;
    }
    const sc_status st = shard_manifest_read(test_path("m.json"), &m);
    CHECK_MSG(st != SC_OK && strstr(sc_last_error(), needle), "manifest with %s: status %d, \"%s\"; wanted \"%s\"", to,
              (int)st, st ? sc_last_error() : "", needle);
}

TEST(shard_manifests_are_read_strictly)
{
    reject_manifest(NULL, NULL, NULL);
    reject_manifest("\"complete\": true", "\"complete\": true, \"extra\": 1", "unknown key \"extra\"");
    reject_manifest("\"format\": \"smoothcache-shard\"", "\"format\": \"other\"", "not a smoothcache shard manifest");
    reject_manifest("\"count\": 5", "\"count\": 4", "\"count\" 4 is not end - begin = 5");
    reject_manifest("\"end\": 11", "\"end\": 12", "end");
    reject_manifest("\"begin\": 6", "\"begin\": 11", "begin");
    reject_manifest("\"shard\": 1", "\"shard\": 2", "shard");
    reject_manifest("\"seed\": \"5\"", "\"seed\": \"-5\"", "not a decimal 64-bit number");
    reject_manifest("\"seed\": \"5\"", "\"seed\": 5", "seed");
    reject_manifest("\"seed\": \"5\"", "\"seed\": \"18446744073709551616\"", "not a decimal 64-bit number");
    reject_manifest("\"0123456789abcdef\"", "\"0123456789ABCDEF\"", "not 16 lowercase hex digits");
    reject_manifest("\"complete\": true", "\"complete\": 1", "complete");
    reject_manifest("\"version\": 1", "\"version\": 2", "version 2");
    reject_manifest(", \"batch\": 3", "", "batch");
}

/* Root in a container and more ranks than cores: OpenMPI asks to be told both. OpenMPI's own
 * libraries leak at exit (LeakSanitizer sees them in the ASan build): leak checking is off for
 * the mpirun runs only; the same code runs leak-checked without MPI in the other tests. */
#define MPIRUN_ENV                                                                                  \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 " \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "

/* Under mpirun an MPI build gathers the ranks' batches into one output, byte-identical to one
 * process; a build without MPI, or a machine without mpirun, checks what it can: each rank then
 * writes its shard (the environment names it), which merge joins. */
TEST(shard_mpirun_gathers_or_shards_by_rank)
{
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("    (no mpirun on this machine: only the environment detection test ran)\n");
        return;
    }
    CHECK_CLI(0, "", RUN " --out %s/one.npz", test_tmpdir());
    char cmd[8192];
    for (int n = 2; n <= 3; n++) {
        snprintf(cmd, sizeof cmd,
                 MPIRUN_ENV
                 "mpirun -n %d %s sample --num 11 --batch 3 --steps 4 --seed 5 --threads 1 --quiet --out %s/mpi%d.npz "
                 ">%s/mpirun.log 2>&1",
                 n, SC_CLI_PATH, test_tmpdir(), n, test_tmpdir());
        const int st = system(cmd);
        size_t len;
        char *log = test_read(test_path("mpirun.log"), &len);
        CHECK_MSG(st == 0, "mpirun -n %d failed:\n%s", n, log);
        free(log);
        char name[64];
        snprintf(name, sizeof name, "mpi%d.npz", n);
#ifdef SC_CLI_HAS_MPI
        CHECK_MSG(same_bytes(test_path("one.npz"), test_path(name)), "mpirun -n %d gathered other bytes", n);
        /* calibrate: samples split over the ranks, rank 0 absorbing the others' sums in rank
         * order: the very file one process writes. */
        if (n == 2) CHECK_CLI(0, "", "calibrate --samples 5 --steps 6 --threads 1 --quiet --out %s/cal1.json", test_tmpdir());
        snprintf(cmd, sizeof cmd,
                 MPIRUN_ENV
                 "mpirun -n %d %s calibrate --samples 5 --steps 6 --threads 1 --quiet --out %s/cal%d.json >%s/mpirun.log 2>&1",
                 n, SC_CLI_PATH, test_tmpdir(), n, test_tmpdir());
        CHECK_MSG(system(cmd) == 0, "mpirun -n %d calibrate failed", n);
        snprintf(name, sizeof name, "cal%d.json", n);
        CHECK_MSG(same_bytes(test_path("cal1.json"), test_path(name)), "calibrate under %d ranks differs", n);
        /* bench: the policies dealt over the ranks, one table on rank 0 with every policy's work
         * and quality as one process measures them (times differ: the ranks share the cores). */
        const char *bench = "bench --class 1,2 --steps 6 --repeats 1 --threads 1 --cache fora:n=2 --cache fora:n=3 "
                            "--cache teacache:thresh=0.05 --quiet";
        if (n == 2) CHECK_CLI(0, "", "%s --csv %s/b1.csv", bench, test_tmpdir());
        snprintf(cmd, sizeof cmd,
                 MPIRUN_ENV
                 "mpirun -n %d %s %s --csv %s/b%d.csv >%s/mpirun.log 2>&1", n, SC_CLI_PATH, bench, test_tmpdir(), n,
                 test_tmpdir());
        CHECK_MSG(system(cmd) == 0, "mpirun -n %d bench failed", n);
        snprintf(name, sizeof name, "b%d.csv", n);
        size_t la, lb;
        char *ca = test_read(test_path("b1.csv"), &la), *cb = test_read(test_path(name), &lb);
        /* Per row: the policy, then (skipping the 4 timing columns) mac_ratio .. skipped_mlp. */
        char *sa = ca, *sb = cb;
        int rows = 0;
        for (char *ea, *eb; (ea = strchr(sa, '\n')) && (eb = strchr(sb, '\n')); sa = ea + 1, sb = eb + 1, rows++) {
            *ea = *eb = '\0';
            char fa[32][64], fb[32][64];
            int na = 0, nb = 0;
            for (char *t = strtok(sa, ","); t && na < 32; t = strtok(NULL, ",")) snprintf(fa[na++], 64, "%s", t);
            for (char *t = strtok(sb, ","); t && nb < 32; t = strtok(NULL, ",")) snprintf(fb[nb++], 64, "%s", t);
            CHECK(na == nb && na > 12);
            CHECK_MSG(!strcmp(fa[0], fb[0]), "row %d: %s against %s", rows, fa[0], fb[0]);
            for (int c = 5; c <= 12 && rows > 0; c++)
                CHECK_MSG(!strcmp(fa[c], fb[c]), "row %d column %d: %s against %s", rows, c, fa[c], fb[c]);
        }
        CHECK(rows == 5); /* header, baseline, 3 policies */
        free(ca), free(cb);
#else
        /* Without MPI each rank was a shard of the environment's count. */
        char list[8192] = "";
        for (int i = 0; i < n; i++) {
            char stem[16];
            snprintf(stem, sizeof stem, "mpi%d", n);
            strcat(list, " ");
            strcat(list, shard_file(stem, i, n, "npz"));
        }
        CHECK_CLI(0, "", "merge %s/%s%s", test_tmpdir(), name, list);
        CHECK(same_bytes(test_path("one.npz"), test_path(name)));
#endif
    }
}

/* A shard killed outright (SIGKILL) while it samples leaves nothing at its final names; its rerun
 * sweeps the temporary file and gives the bytes the uninterrupted run gives. */
TEST(shard_killed_outright_resumes_to_the_same_bytes)
{
    CHECK_CLI(0, "", "sample --num 6 --batch 2 --steps 100 --seed 3 --threads 1 --quiet --out %s/whole.npz",
              test_tmpdir());
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s sample --num 6 --batch 2 --steps 100 --seed 3 --threads 1 --quiet --out %s/kill.npz --shard 1/2 & "
             "pid=$!; sleep 0.3; kill -9 $pid; wait $pid 2>/dev/null; exit 0",
             SC_CLI_PATH, test_tmpdir());
    CHECK(system(cmd) == 0);
    CHECK(access(shard_file("kill", 1, 2, "npz"), F_OK) != 0 && access(shard_file("kill", 1, 2, "json"), F_OK) != 0);
    for (int i = 0; i < 2; i++)
        CHECK_CLI(0, "", "sample --num 6 --batch 2 --steps 100 --seed 3 --threads 1 --quiet --out %s/kill.npz --shard %d/2",
                  test_tmpdir(), i);
    CHECK_CLI(0, "", "merge %s/kill-merged.npz %s %s", test_tmpdir(), shard_file("kill", 0, 2, "npz"),
              shard_file("kill", 1, 2, "npz"));
    CHECK(same_bytes(test_path("whole.npz"), test_path("kill-merged.npz")));
    /* Nothing hidden is left beside the outputs. */
    snprintf(cmd, sizeof cmd, "ls -A %s | grep -q '^\\.'", test_tmpdir());
    CHECK_MSG(system(cmd) != 0, "a temporary file was left in %s", test_tmpdir());
}
