#include "io/tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[TEMPFILES_MAX][4096];
static volatile sig_atomic_t g_used[TEMPFILES_MAX];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void tempfiles_add(const char *path)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < TEMPFILES_MAX; i++)
        if (!g_used[i]) {
            snprintf(g_path[i], sizeof g_path[i], "%s", path);
            g_used[i] = 1; /* after the copy: a handler never sees a half-written path */
            break;
        }
    pthread_mutex_unlock(&g_lock);
}

void tempfiles_remove(const char *path)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < TEMPFILES_MAX; i++)
        if (g_used[i] && !strcmp(g_path[i], path)) {
            g_used[i] = 0;
            break;
        }
    pthread_mutex_unlock(&g_lock);
}

void tempfiles_unlink_all(void)
{
    for (int i = 0; i < TEMPFILES_MAX; i++)
        if (g_used[i]) unlink(g_path[i]);
}

void tempfiles_sweep(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char head[300];
    const int hn = snprintf(head, sizeof head, ".%s.tmp.", prefix);
    if (hn <= 0 || (size_t)hn >= sizeof head) {
        closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, head, (size_t)hn)) continue;
        /* ".<prefix>.tmp.<pid>.XXXXXX": only names with a pid of a process that is gone. */
        char *end;
        errno = 0;
        const long pid = strtol(e->d_name + hn, &end, 10);
        if (errno || end == e->d_name + hn || *end != '.' || strlen(end) != 7 || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path) unlink(path);
    }
    closedir(d);
}
