/* The command line as a user meets it: help, bad flags and values (exit 2 with a message naming
 * the flag), outputs that never overwrite, and a real generation on a fixture model. */
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "tiny_dit.h"


static const char *model(void)
{
    static char p[2048];
    snprintf(p, sizeof p, "%s/dit_a", test_fixtures());
    return p;
}

TEST(cli_help_lists_commands_and_options)
{
    CHECK_CLI(0, "generate", "--help");
    CHECK_CLI(0, "--latents-out FILE.npy", "generate --help");
    CHECK_CLI(0, "--model PATH", "info -h");
    CHECK_CLI(0, "--latents-out FILE.npy", "help generate"); /* as git help COMMAND */
    CHECK_CLI(2, "smoothcache help: unknown command 'frobnicate'", "help frobnicate");
    /* each command's --model default is the one it can reach: info has no prompts */
    CHECK_CLI(0, "else the shipped class demo)", "info --help");
    CHECK_CLI(2, "usage:", "%s", "");
    CHECK_CLI(2, "unknown command 'frobnicate'", "frobnicate");
}

TEST(cli_rejects_unknown_flags_missing_values_and_repeats)
{
    CHECK_CLI(2, "unknown option '--stepz'", "generate --model %s --stepz 3", model());
    CHECK_CLI(2, "--steps needs a value", "generate --model %s --latents-out x.npy --steps", model());
    CHECK_CLI(2, "--seed given more than once", "generate --seed 1 --seed 2");
    CHECK_CLI(2, "--force takes no value", "generate --force=1");
    CHECK_CLI(2, "unexpected argument 'extra'", "info extra");
    CHECK_CLI(1, "cannot open", "info --model %s/none", test_tmpdir());
}

/* Before any work: two outputs naming one file, an output of the wrong kind, options that a
 * folder's config.json already settles, a file that is no checkpoint. */
TEST(cli_refuses_clashing_outputs_and_options_the_checkpoint_settles)
{
    char d[1024], z[1024], s[1024];
    snprintf(d, sizeof d, "%s", test_path("d.npz"));
    snprintf(z, sizeof z, "%s", test_path("z.npy"));
    snprintf(s, sizeof s, "%s", test_path("s.png"));
    CHECK_CLI(2, "--latents-out: '", "generate --model %s --steps 2 --out %s --latents-out %s --force", model(), d, d);
    CHECK(access(d, F_OK) != 0);
    CHECK_CLI(2, "--out and --out-uncached name the same file",
              "generate --model %s --steps 2 --out %s --compare-uncached --out-uncached %s", model(), s, s);
    CHECK_CLI(2, "must end in .npy", "generate --model %s --steps 2 --latents-out %s", model(), test_path("z.png"));
    CHECK_CLI(2, "gives 2 heads", "generate --model %s --heads 4 --steps 2 --latents-out %s", model(), z);
    CHECK(access(z, F_OK) != 0);
    test_write(test_path("notes.txt"), "These are notes, not weights.\n", 30);
    CHECK_CLI(1, "this is a text file, not a checkpoint", "info --model %s", test_path("notes.txt"));
}

TEST(cli_rejects_malformed_and_out_of_range_numbers)
{
    const char *bad_steps[] = {"0", "1001", "", "+5", " 5", "12abc", "0x10", "-3", "5.0"};
    for (size_t i = 0; i < sizeof bad_steps / sizeof *bad_steps; i++)
        CHECK_CLI(2, "--steps", "generate --model %s --latents-out o.npy --steps '%s'", model(), bad_steps[i]);
    const char *bad_cfg[] = {"nan", "inf", "-inf", "1e309", "0.5", "1001", "0x1p3", "4,5", "four"};
    for (size_t i = 0; i < sizeof bad_cfg / sizeof *bad_cfg; i++)
        CHECK_CLI(2, "--cfg", "generate --model %s --latents-out o.npy --cfg '%s'", model(), bad_cfg[i]);
    CHECK_CLI(2, "--seed", "generate --model %s --latents-out o.npy --seed -2", model());
    CHECK_CLI(2, "--seed", "generate --model %s --latents-out o.npy --seed 18446744073709551616", model());
    CHECK_CLI(2, "--threads", "generate --model %s --latents-out o.npy --threads -1", model());
    CHECK_CLI(2, "--threads", "generate --model %s --latents-out o.npy --threads 100000", model());
    CHECK_CLI(2, "--class", "generate --model %s --latents-out o.npy --class 1,,2", model());
    CHECK_CLI(2, "--sampler: 'euler'", "generate --model %s --latents-out o.npy --sampler euler", model());
}

TEST(cli_class_outside_the_model_is_a_usage_error)
{
    CHECK_CLI(2, "class 10 is out of range: this model has classes 0..9", "generate --model %s --class 10 --steps 1 --latents-out %s",
              model(), test_path("o.npy"));
    struct stat st;
    CHECK(stat(test_path("o.npy"), &st) != 0); /* no file left behind */
}

TEST(cli_generate_writes_latents_and_refuses_to_overwrite)
{
    const char *out = test_path("z.npy");
    CHECK_CLI(0, "wrote", "generate --model %s --class 1,2 --steps 3 --seed 5 --latents-out %s", model(), out);
    npy_array a;
    CHECK_OK(npy_read(out, &a));
    CHECK(a.rank == 4 && a.shape[0] == 2 && a.shape[1] == 4 && a.shape[2] == 16 && a.shape[3] == 16);
    npy_array b;
    CHECK_CLI(1, "already exists (use --force to overwrite)", "generate --model %s --class 1,2 --steps 3 --latents-out %s", model(), out);
    CHECK_OK(npy_read(out, &b));
    CHECK(memcmp(a.data, b.data, a.numel * sizeof(float)) == 0); /* untouched */
    npy_free(&b);
    /* a folder named like the output file: said so, with or without --force, and left alone */
    CHECK(mkdir(test_path("dir.npy"), 0755) == 0);
    CHECK_CLI(1, "dir.npy: is a folder; give a file name", "generate --model %s --steps 2 --latents-out %s", model(),
              test_path("dir.npy"));
    CHECK_CLI(1, "dir.npy: is a folder; give a file name", "generate --model %s --steps 2 --latents-out %s --force",
              model(), test_path("dir.npy"));
    struct stat dst;
    CHECK(stat(test_path("dir.npy"), &dst) == 0 && S_ISDIR(dst.st_mode));
    CHECK_CLI(0, "wrote", "generate --model %s --class 1,2 --steps 3 --seed 6 --force --latents-out %s", model(), out);
    CHECK_OK(npy_read(out, &b));
    CHECK(memcmp(a.data, b.data, a.numel * sizeof(float)) != 0); /* another seed, another result */
    npy_free(&a);
    npy_free(&b);
}

TEST(cli_generate_is_deterministic_and_batch_invariant)
{
    CHECK_CLI(0, "wrote", "generate --model %s --class 1,2 --steps 3 --seed 5 --latents-out %s", model(), test_path("ab.npy"));
    CHECK_CLI(0, "wrote", "generate --model %s --class 2 --steps 3 --seed 6 --latents-out %s", model(), test_path("b.npy"));
    CHECK_CLI(0, "wrote", "generate --model %s --class 1,2 --steps 3 --seed 5 --threads 1 --latents-out %s", model(), test_path("ab1.npy"));
    npy_array ab, b, ab1;
    CHECK_OK(npy_read(test_path("ab.npy"), &ab));
    CHECK_OK(npy_read(test_path("b.npy"), &b));
    CHECK_OK(npy_read(test_path("ab1.npy"), &ab1));
    /* Image 1 of seed 5 is image 0 of seed 6 (docs/NUMERICS.md), computed in another batch. The
     * matrix library blocks its sums by the row count, so another batch rounds differently:
     * 3.4e-5 was measured with its AVX2 kernels, under 1e-5 with AVX-512. */
    size_t half = ab.numel / 2;
    double md = 0;
    for (size_t i = 0; i < half; i++) md = fmax(md, fabs(ab.data[half + i] - b.data[i]));
    CHECK_MSG(md < 1e-4, "batch of 2 vs single differs by %g", md);
    md = 0;
    for (size_t i = 0; i < ab.numel; i++) md = fmax(md, fabs(ab.data[i] - ab1.data[i]));
    CHECK_MSG(md < 1e-4, "1 thread vs all threads differs by %g", md);
    npy_free(&ab); npy_free(&b); npy_free(&ab1);
}

TEST(cli_latents_in_must_match_the_model)
{
    uint64_t shape[4] = {1, 4, 8, 8};
    float z[256] = {0};
    CHECK_OK(npy_write_f32(test_path("in.npy"), z, 4, shape, 0));
    CHECK_CLI(2, "expected [1, 4, 16, 16]", "generate --model %s --class 1 --latents-in %s --latents-out %s", model(),
              test_path("in.npy"), test_path("o.npy"));
    test_write(test_path("bad.npy"), "\x93NUMPY\x01\x00\x05\x00{'a':", 15);
    CHECK_CLI(1, "bad.npy", "generate --model %s --class 1 --latents-in %s --latents-out %s", model(), test_path("bad.npy"), test_path("o.npy"));
}

TEST(cli_output_into_a_missing_directory_fails_cleanly)
{
    CHECK_CLI(1, "cannot create: folder", "generate --model %s --steps 1 --latents-out %s/no/such/dir/z.npy", model(), test_tmpdir());
    /* a parent that is a file, not a folder */
    CHECK_CLI(1, "Not a directory", "generate --model %s --steps 1 --latents-out %s/config.json/z.npy", model(), model());
}

TEST(cli_info_reports_architecture_and_cost)
{
    CHECK_CLI(0, "hidden:         64 (2 heads x 32)", "info --model %s", model());
    CHECK(strstr(test_cli_output, "layout:         diffusers") && strstr(test_cli_output, "MACs/forward"));
    tiny_dit t = tiny_dit_default();
    tiny_dit_write(test_path("m.safetensors"), &t);
    CHECK_CLI(0, "layout:         original", "info --model %s --heads 2", test_path("m.safetensors"));
    CHECK_CLI(1, "--heads", "info --model %s", test_path("m.safetensors"));
    CHECK_CLI(2, "--origin: 'pytorch'", "info --model %s --origin pytorch", model());
}

TEST(cli_calibrate_schedule_generate_round_trip)
{
    CHECK_CLI(0, "calibrated smooth on 3 samples", "calibrate --model %s --steps 12 --samples 3 --out %s --plot %s", model(),
              test_path("err.json"), test_path("err.png"));
    {
        size_t len;
        char *text = test_read(test_path("err.json"), &len);
        CHECK_MSG(text && strstr(text, "\"dtype\": \"f32\""), "%.300s", text ? text : "(no err.json)");
        free(text);
    }
    CHECK_CLI(0, "MACs", "schedule --errors %s --alpha 0.3 --out %s", test_path("err.json"), test_path("s.json"));
    CHECK_CLI(0, "MACs 0.", "schedule --errors %s --target-macs 0.7 --out %s", test_path("err.json"), test_path("t.json"));
    CHECK_CLI(0, " uncached (", "generate --model %s --steps 12 --class 1 --cache smooth:schedule=%s --compare-uncached --report %s",
              model(), test_path("s.json"), test_path("rep.json"));
    json_t *j;
    CHECK_OK(json_load_object_file(test_path("rep.json"), 1u << 20, &j));
    const json_t *run = json_array_get(json_object_get(j, "runs"), 0);
    CHECK(json_integer_value(json_object_get(json_object_get(run, "skipped"), "attn")) > 0);
    CHECK(json_real_value(json_object_get(run, "mac_ratio")) < 1.0);
    CHECK(json_is_real(json_object_get(run, "latent_rel_l2")));
    json_decref(j);
    /* The calibration pools like the official calibrator by default and records the layout; the
     * schedule of this diffusers-layout model uses diffusers' module names (and was read above). */
    CHECK_OK(json_load_object_file(test_path("err.json"), 1u << 24, &j));
    const json_t *meta = json_object_get(j, "_meta");
    CHECK(!strcmp(json_string_value(json_object_get(meta, "averaging")), "pooled"));
    CHECK(!strcmp(json_string_value(json_object_get(meta, "layout")), "diffusers"));
    json_decref(j);
    CHECK_OK(json_load_object_file(test_path("s.json"), 1u << 20, &j));
    CHECK(json_object_get(j, "attn1") && json_object_get(j, "ff") && !json_object_get(j, "attn") &&
          !json_object_get(j, "mlp"));
    json_decref(j);
    CHECK_CLI(0, "wrote", "schedule --errors %s --alpha 0.15 --per-block --out %s --force", test_path("err.json"),
              test_path("pb.json"));
    CHECK_OK(json_load_object_file(test_path("pb.json"), 1u << 20, &j));
    CHECK(json_object_get(j, "attn1-0") && json_object_get(j, "ff-1") && !json_object_get(j, "attn-0"));
    json_decref(j);
    /* An original-layout file keeps the DiT repository's names. */
    tiny_dit t = tiny_dit_default();
    tiny_dit_write(test_path("orig.safetensors"), &t);
    CHECK_CLI(0, "calibrated", "calibrate --model %s --heads 2 --steps 8 --samples 1 --out %s", test_path("orig.safetensors"),
              test_path("oerr.json"));
    CHECK_CLI(0, "wrote", "schedule --errors %s --alpha 0.3 --out %s", test_path("oerr.json"), test_path("os.json"));
    CHECK_OK(json_load_object_file(test_path("os.json"), 1u << 20, &j));
    CHECK(json_object_get(j, "attn") && json_object_get(j, "mlp") && !json_object_get(j, "attn1"));
    json_decref(j);
}

TEST(cli_calibrate_and_schedule_reject_bad_usage)
{
    CHECK_CLI(2, "--out FILE.json is required", "calibrate --model %s", model());
    CHECK_CLI(2, "--averaging: 'median'", "calibrate --model %s --out x.json --averaging median", model());
    CHECK_CLI(2, "--k", "calibrate --model %s --out x.json --k 0", model());
    CHECK_CLI(2, "--class gives 2 classes but --samples is 3", "calibrate --model %s --out x.json --class 1,2 --samples 3", model());
    CHECK_CLI(2, "exactly one of --alpha and --target-macs", "schedule --errors e.json --out s.json");
    CHECK_CLI(2, "--target-macs", "schedule --errors e.json --target-macs 1.5 --out s.json");
    CHECK_CLI(1, "cannot open", "schedule --errors %s --alpha 0.1 --out %s", test_path("none.json"), test_path("s.json"));
    test_write(test_path("bad.json"), "{\"attn\": 3}", 11);
    CHECK_CLI(1, "not a calibration file", "schedule --errors %s --alpha 0.1 --out %s", test_path("bad.json"), test_path("s.json"));
    CHECK_CLI(2, "unknown policy 'magic'", "generate --model %s --steps 2 --cache magic --latents-out %s", model(), test_path("o.npy"));
    /* text-only flags on a class-conditional model are refused, not ignored */
    CHECK_CLI(2, "--negative-prompt: this model is class-conditional: it takes no text",
              "generate --model %s --steps 2 --negative-prompt blurry --latents-out %s", model(), test_path("o.npy"));
    CHECK_CLI(2, "--max-length: this model is class-conditional", "bench --model %s --steps 2 --max-length 8 --cache fora",
              model());
    CHECK_CLI(2, "--prompt: this model is class-conditional", "bench --model %s --steps 2 --prompt x --cache fora", model());
    CHECK_CLI(2, "--tokenizer: this model is class-conditional", "calibrate --model %s --steps 4 --tokenizer t --out %s",
              model(), test_path("c.json"));
}

TEST(cli_bench_prints_one_row_per_policy)
{
    CHECK_CLI(0, "fora:n=2", "bench --model %s --steps 6 --class 1 --cache fora:n=2 --cache fora:n=3 --json %s", model(),
              test_path("b.json"));
    CHECK(strstr(test_cli_output, "none") && strstr(test_cli_output, "fora:n=3") && strstr(test_cli_output, "MAC ratio"));
    CHECK(strstr(test_cli_output, "range") && strstr(test_cli_output, "median of 3 runs")); /* --repeats 3 by default */
    CHECK(strstr(test_cli_output, " (f32), ddim, 6 steps")); /* the precision it ran at, in the header and the JSON */
    {
        size_t len;
        char *text = test_read(test_path("b.json"), &len);
        CHECK_MSG(text && strstr(text, "\"dtype\": \"f32\""), "%s", text ? text : "(no b.json)");
        free(text);
    }
    CHECK_CLI(2, "at least one --cache", "bench --model %s --steps 2", model());
    CHECK_CLI(2, "--repeats: 0 is out of range", "bench --model %s --steps 2 --cache fora --repeats 0", model());
    /* a negative count is a number out of range, not "not an integer"; inf and nan are not finite */
    CHECK_CLI(2, "--steps: -3 is out of range [1, 1000]", "bench --model %s --steps -3 --cache fora", model());
    CHECK_CLI(2, "--cfg: inf is not a finite number", "bench --model %s --steps 2 --cfg inf --cache fora", model());
    CHECK_CLI(2, "--cfg: -NaN is not a finite number", "bench --model %s --steps 2 --cfg -NaN --cache fora", model());
    CHECK_CLI(2, "--steps: '3x' is not an integer", "bench --model %s --steps 3x --cache fora", model());
    /* A policy option that does not exist is refused before the baseline runs (the message names
     * the spec: the check before the work, not the failing generation after the baseline). */
    CHECK_CLI(2, "--cache fora:interval=1: cache policy fora has no option 'interval'",
              "bench --model %s --steps 2 --cache fora:n=2 --cache fora:interval=1", model());
}

/* Speed-ups come from a warm-up and paired runs; --repeats needs something to compare. */
TEST(cli_generate_speedup_is_a_median_of_paired_runs)
{
    CHECK_CLI(0, "median of 2 paired runs, range ", "generate --model %s --steps 6 --class 1 --cache fora:n=2 "
              "--compare-uncached --repeats 2 --latents-out %s", model(), test_path("r.npy"));
    CHECK(strstr(test_cli_output, "x faster than uncached") || strstr(test_cli_output, "x slower than uncached") ||
          strstr(test_cli_output, "as fast as uncached"));
    CHECK_CLI(0, "one run, --repeats 3 or more gives a median", "generate --model %s --steps 6 --class 1 --cache fora:n=2 "
              "--compare-uncached --repeats 1 --latents-out %s --force", model(), test_path("r.npy"));
    CHECK_CLI(2, "--repeats needs --compare-uncached", "generate --model %s --steps 2 --repeats 3 --latents-out %s --force",
              model(), test_path("r.npy"));
}

/* What users of cache-dit and stable-diffusion.cpp type means the same here. */
TEST(cli_accepts_the_names_users_of_other_tools_type)
{
    CHECK_CLI(0, "--seed -1: using seed ", "generate --model %s --steps 4 --class 1 --seed -1 --threads 0 --latents-out %s",
              model(), test_path("a.npy"));
    CHECK_CLI(0, "dbcache:Fn=1,Bn=0,threshold=0.2", "generate --model %s --steps 6 --class 1 --cache "
              "dbcache:Fn=1,Bn=0,threshold=0.2,warmup=2 --latents-out %s", model(), test_path("b.npy"));
    CHECK_CLI(0, "", "generate --model %s --steps 6 --class 1 --cache fbcache:threshold=0.2 --latents-out %s", model(),
              test_path("c.npy"));
    /* DBCache's default Fn = 8 fits a model of 2 blocks (here) and the 6-block demo. */
    CHECK_CLI(0, "dbcache", "generate --model %s --steps 6 --class 1 --cache dbcache --latents-out %s", model(),
              test_path("d.npy"));
    CHECK_CLI(0, "dbcache", "generate --steps 10 --class 1 --cache dbcache --out %s", test_path("d.png"));
    CHECK_CLI(2, "--seed: -2 is out of range: give 0 .. 2^64-1, or -1 for a random seed", "generate --model %s --steps 2 --seed -2 --latents-out %s --force", model(),
              test_path("a.npy"));
    CHECK_CLI(0, "depth:          2 blocks", "info --model %s", model());
}

/* Every output's extension is checked before any work, with the flag named. */
TEST(cli_checks_every_output_extension)
{
    CHECK_CLI(2, "--csv: 'x.txt' must end in .csv", "bench --model %s --steps 2 --cache fora --csv x.txt", model());
    CHECK_CLI(2, "--plot: 'x.jpg' must end in .png", "bench --model %s --steps 2 --cache fora --plot x.jpg", model());
    CHECK_CLI(2, "--plot-macs: 'x' must end in .png", "bench --model %s --steps 2 --cache fora --plot-macs x", model());
    CHECK_CLI(2, "--json: 'x.js' must end in .json", "bench --model %s --steps 2 --cache fora --json x.js", model());
    CHECK_CLI(2, "--plot and --plot-macs name the same file", "bench --model %s --steps 2 --cache fora --plot p.png "
              "--plot-macs p.png", model());
    CHECK_CLI(2, "--plot: 'e.json' must end in .png", "calibrate --model %s --out x.json --plot e.json", model());
    CHECK_CLI(2, "--out: 'e.png' must end in .json", "calibrate --model %s --out e.png", model());
    CHECK_CLI(2, "--out: 's.txt' must end in .json", "schedule --errors e.json --alpha 0.1 --out s.txt");
    CHECK_CLI(2, "--out: 's.png' must end in .npz", "sample --model %s --num 2 --out s.png", model());
    CHECK_CLI(2, "OUT: 'm.bin' must end in .safetensors", "convert %s/diffusion_pytorch_model.safetensors m.bin", model());
}

/* When stderr is not a terminal (a log, a batch system), progress comes as plain lines. */
TEST(cli_progress_lines_when_stderr_is_not_a_terminal)
{
    setenv("SMOOTHCACHE_PROGRESS_INTERVAL", "0", 1);
    CHECK_CLI(0, "smoothcache generate: none: step 1/6 (17%), ", "generate --model %s --steps 6 --class 1 --latents-out %s",
              model(), test_path("p.npy"));
    CHECK(!strchr(test_cli_output, '\r'));
    CHECK_CLI(0, "smoothcache sample: image 2/4 (50%)", "sample --steps 3 --num 4 --batch 2 --out %s",
              test_path("p.npz")); /* the shipped demo model makes pictures */
    CHECK_CLI(0, "", "generate --model %s --steps 6 --class 1 --latents-out %s --force --quiet", model(),
              test_path("p.npy"));
    CHECK(!strstr(test_cli_output, "step 1/6"));
    unsetenv("SMOOTHCACHE_PROGRESS_INTERVAL");
    /* The default interval is 10 s: a short run prints none. */
    CHECK_CLI(0, "6 steps", "generate --model %s --steps 6 --class 1 --latents-out %s --force", model(), test_path("p.npy"));
    CHECK(!strstr(test_cli_output, "step 1/6"));
}

TEST(cli_schedule_dp_solver_needs_a_budget)
{
    CHECK_CLI(0, "calibrated", "calibrate --model %s --steps 10 --samples 1 --out %s", model(), test_path("e.json"));
    CHECK_CLI(0, "dp, ", "schedule --errors %s --solver dp --target-macs 0.7 --out %s", test_path("e.json"), test_path("s.json"));
    CHECK_CLI(2, "--solver dp needs --target-macs", "schedule --errors %s --solver dp --alpha 0.1 --out %s",
              test_path("e.json"), test_path("t.json"));
    CHECK_CLI(2, "--solver: 'magic'", "schedule --errors %s --solver magic --alpha 0.1 --out %s", test_path("e.json"),
              test_path("t.json"));
}

TEST(cli_bench_sweeps_brace_lists_into_csv_and_plots)
{
    CHECK_CLI(0, "fora:n=3", "bench --model %s --steps 6 --class 1 --cache 'fora:n={2,3}' --cache 'taylorseer:interval={2,3},warmup=2' "
              "--csv %s --plot %s --plot-macs %s", model(), test_path("s.csv"), test_path("s.png"), test_path("m.png"));
    CHECK(strstr(test_cli_output, "fora:n=2") && strstr(test_cli_output, "taylorseer:interval=3,warmup=2"));
    char *csv = NULL;
    FILE *f = fopen(test_path("s.csv"), "r");
    CHECK(f);
    csv = calloc(1, 8192);
    size_t n = fread(csv, 1, 8191, f);
    fclose(f);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += csv[i] == '\n';
    CHECK_MSG(lines == 1 + 5, "%d CSV lines:\n%s", lines, csv); /* header, baseline, 4 policies */
    CHECK(strstr(csv, "\"taylorseer:interval=2,warmup=2\""));
    free(csv);
    char args[2048];
    snprintf(args, sizeof args, "pngcheck -q %s %s", test_path("s.png"), test_path("m.png"));
    CHECK(system(args) == 0);
    CHECK_CLI(2, "unbalanced or empty", "bench --model %s --steps 2 --cache 'fora:n={2,3'", model());
}

TEST(cli_without_a_model_uses_the_shipped_demo_and_writes_samples_png)
{
    CHECK_CLI(0, "classes:        10", "info");
    CHECK(strstr(test_cli_output, "pixel space"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s generate --steps 4 --quiet 2>/dev/null", test_tmpdir(), SC_CLI_PATH);
    CHECK(system(cmd) == 0);
    struct stat sb;
    CHECK_MSG(stat(test_path("samples.png"), &sb) == 0 && sb.st_size > 100, "no samples.png");
    CHECK(system(cmd) != 0); /* not overwritten without --force */
    CHECK_CLI(1, "cannot open", "info --model %s/no-model", test_tmpdir());
    snprintf(cmd, sizeof cmd, "SMOOTHCACHE_MODEL=%s/missing %s info >/dev/null 2>&1", test_tmpdir(), SC_CLI_PATH);
    CHECK(system(cmd) != 0);
}

TEST(cli_policies_lists_every_policy_with_its_options)
{
    CHECK_CLI(0, "teacache", "policies");
    const char *names[] = {"none", "fora", "smooth", "taylorseer", "abcache", "adacache", "teacache", "magcache",
                           "fbcache", "dbcache", "fastercache"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) CHECK_MSG(strstr(test_cli_output, names[i]), "no %s", names[i]);
    CHECK(strstr(test_cli_output, "options: n=N"));
    CHECK(strstr(test_cli_output, "store=f32|bf16"));
    CHECK_CLI(2, "unknown option", "policies --bogus");
}

TEST(cli_dtype_sets_the_precision_or_is_refused_by_name)
{
    CHECK_CLI(0, "compute:        f32", "info --model %s", model());
    CHECK_CLI(2, "--dtype: 'fp8' is not a precision", "generate --model %s --dtype fp8 --out %s/fp8.png", model(),
              test_tmpdir());
    CHECK_CLI(2, "int8 weights are made at load", "convert %s/diffusion_pytorch_model.safetensors %s/x.safetensors --dtype int8",
              model(), test_tmpdir());
    const char *d[2] = {"bf16", "int8"};
    for (int i = 0; i < 2; i++) {
        if (sc_dtype_supported(i ? SC_DTYPE_INT8 : SC_DTYPE_BF16)) {
            CHECK_CLI(0, d[i], "info --model %s --dtype %s", model(), d[i]);
            CHECK(strstr(test_cli_output, "copies made at load"));
            CHECK_CLI(0, "", "generate --model %s --dtype %s --class 1 --steps 3 --latents-out %s/d.npy --force", model(),
                      d[i], test_tmpdir());
        } else {
            CHECK_CLI(1, d[i], "generate --model %s --dtype %s --class 1 --steps 3 --latents-out %s/d.npy --force",
                      model(), d[i], test_tmpdir());
        }
    }
}

TEST(cli_generate_writes_the_uncached_pictures_beside_the_cached_ones)
{
    CHECK_CLI(0, "wrote", "generate --steps 6 --class 0,1 --cache fora:n=2 --compare-uncached --out %s --out-uncached %s",
              test_path("c.png"), test_path("u.png"));
    CHECK(strstr(test_cli_output, "PSNR") && strstr(test_cli_output, "(uncached)"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "pngcheck -q %s %s", test_path("c.png"), test_path("u.png"));
    CHECK(system(cmd) == 0);
    CHECK_CLI(2, "--out-uncached needs --compare-uncached", "generate --steps 2 --out-uncached %s", test_path("x.png"));
    CHECK_CLI(1, "already exists", "generate --steps 2 --compare-uncached --out %s --out-uncached %s",
              test_path("n.png"), test_path("u.png"));
}

TEST(cli_a_schedule_made_elsewhere_is_warned_about)
{
    /* A schedule calibrated on another model at another guidance, with a key this DiT lacks and
     * none for its MLP: it runs (it is valid) and every mismatch is said. */
    FILE *f = fopen(test_path("other.json"), "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\"attn\": [1, 0, 1, 0, 1, 1], \"attn2\": [1, 1, 0, 1, 0, 1],\n"
               " \"_meta\": {\"model\": \"models/elsewhere\", \"cfg\": 1.5, \"sampler\": \"ddim\", \"steps\": 6,\n"
               "           \"macs_per_sample\": {\"forward\": 123456789}}}\n");
    fclose(f);
    CHECK_CLI(0, "made at cfg 1.5; this generation uses cfg 4", "generate --model %s --steps 6 --class 1 --cache "
              "smooth:schedule=%s --latents-out %s", model(), test_path("other.json"), test_path("o.npy"));
    CHECK(strstr(test_cli_output, "was made on another model, models/elsewhere (0.1235 GMACs per forward"));
    CHECK(strstr(test_cli_output, "1 key names components this model does not have (attn2): ignored"));
    CHECK(strstr(test_cli_output, "no schedule for mlp (ff"));
    CHECK(strstr(test_cli_output, "computed attn 8/12, mlp 12/12")); /* the attn row, in both blocks */
}
