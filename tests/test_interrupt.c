/* Interrupts leave nothing behind: SIGINT and SIGTERM sent to sample, calibrate and generate
 * (pictures and sound) in the middle of their work end them by that signal, with no temporary
 * file and no final file;
 * a temporary file left by a killed process is removed by the next output to the same path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Files of `dir` whose name starts with `prefix`. */
static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

static void pause_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs the CLI with argv in `dir` (output quiet), waits until `ready` has a file whose name starts
 * with `ready_prefix` (or `delay` seconds when ready_prefix is NULL), sends sig, and returns the
 * wait status. */
static int interrupt(const char *dir, char *const argv[], const char *ready_prefix, double delay, int sig)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        signal(SIGINT, SIG_DFL); /* as an interactive shell starts it */
        signal(SIGTERM, SIG_DFL);
        execv(SC_CLI_PATH, argv);
        _exit(127);
    }
    const double t0 = now();
    for (;;) {
        if (ready_prefix ? count_files(dir, ready_prefix) > 0 : now() - t0 >= delay) break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return st; /* finished before it could be stopped */
        if (now() - t0 > 120) break;
        pause_s(0.02);
    }
    pause_s(0.2); /* well inside the work */
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

TEST(interrupt_sample_calibrate_generate_leave_nothing)
{
    char demo[2048];
    snprintf(demo, sizeof demo, "%s/models/demo", SC_SOURCE_DIR);
    const int sigs[2] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s", test_path(k ? "term" : "int"));
        CHECK(mkdir(dir, 0755) == 0);
        /* sample streams its .npz into a temporary file from the first batch on. */
        char *const s_argv[] = {"smoothcache", "sample", "--model", demo, "--num", "2000", "--batch", "2", "--steps",
                                "50", "--threads", "1", "--out", "s.npz", NULL};
        int st = interrupt(dir, s_argv, ".s.npz.tmp.", 0, sigs[k]);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k], "sample: status %#x", st);
        char *const c_argv[] = {"smoothcache", "calibrate", "--model", demo, "--steps", "400", "--samples", "10",
                                "--threads", "1", "--out", "c.json", "--plot", "c.png", NULL};
        st = interrupt(dir, c_argv, NULL, 1.0, sigs[k]);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k], "calibrate: status %#x", st);
        char *const g_argv[] = {"smoothcache", "generate", "--model", demo, "--steps", "1000", "--threads", "1",
                                "--out", "g.png", "--latents-out", "g.npy", "--report", "g.json", NULL};
        st = interrupt(dir, g_argv, NULL, 1.0, sigs[k]);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k], "generate: status %#x", st);
        /* Sound: WAV files per clip and spectrograms, from a tiny Stable Audio pipeline. */
        char pipe[2048];
        snprintf(pipe, sizeof pipe, "%s/stableaudio/pipe", test_fixtures());
        char *const a_argv[] = {"smoothcache", "generate", "--model", pipe, "--prompt", "a chord", "--prompt",
                                "a noise burst", "--steps", "1000", "--threads", "1", "--compare-uncached",
                                "--repeats", "100", "--out", "a.wav", "--spectrogram", "a.png", NULL};
        st = interrupt(dir, a_argv, NULL, 1.0, sigs[k]);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[k], "generate (sound): status %#x", st);
        /* Nothing at all is left: no temporary file, no final one. */
        CHECK_MSG(count_files(dir, "") == 2, "%s holds %d entries besides . and ..", dir, count_files(dir, "") - 2);
    }
}

/* A process killed outright (SIGKILL) leaves its temporary file; the next output to that path
 * removes it when its process is gone, and keeps the files of processes that still run. */
TEST(interrupt_leftovers_of_killed_runs_are_swept)
{
    char dir[2048], stale[2400], live[2400], args[4096];
    snprintf(dir, sizeof dir, "%s", test_path("sweep"));
    CHECK(mkdir(dir, 0755) == 0);
    /* A pid that is not running: the highest the kernel could give, checked. */
    long dead = 4194303;
    while (dead > 1000 && (kill((pid_t)dead, 0) == 0 || errno != ESRCH)) dead--;
    snprintf(stale, sizeof stale, "%s/.z.npy.tmp.%ld.AbCdEf", dir, dead);
    snprintf(live, sizeof live, "%s/.z.npy.tmp.%ld.GhIjKl", dir, (long)getpid());
    test_write(stale, "partial", 7);
    test_write(live, "partial", 7);
    snprintf(args, sizeof args, "generate --model %s/models/demo --steps 2 --class 1 --latents-out %s/z.npy",
             SC_SOURCE_DIR, dir);
    char *out = NULL;
    CHECK_MSG(test_cli(args, &out) == 0, "%s", out);
    free(out);
    CHECK(access(stale, F_OK) != 0 && access(live, F_OK) == 0);
    snprintf(stale, sizeof stale, "%s/z.npy", dir);
    CHECK(access(stale, F_OK) == 0);
}

/* Outputs honour the umask; a final name over the file-name limit is refused before the work. */
TEST(interrupt_outputs_honour_the_umask_and_the_name_limit)
{
    char path[2048], args[8192], name[300];
    snprintf(path, sizeof path, "%s", test_path("u.npy"));
    snprintf(args, sizeof args, "sh -c 'umask 077 && %s generate --model %s/models/demo --steps 2 --class 1 "
                                "--latents-out %s' >/dev/null 2>&1",
             SC_CLI_PATH, SC_SOURCE_DIR, path);
    CHECK(system(args) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    memset(name, 'n', 256);
    memcpy(name + 252, ".npy", 5);
    snprintf(args, sizeof args, "generate --steps 2 --class 1 --latents-out %s/%s", test_path(""), name);
    char *out = NULL;
    CHECK(test_cli(args, &out) == 2);
    CHECK_MSG(strstr(out, "the file name is 256 bytes; names are at most 255"), "%s", out);
    free(out);
}
