#define _GNU_SOURCE
#include "io/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/tempfiles.h"

static sc_status open_regular(const char *path, int *fd_out, uint64_t *size_out)
{
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty file path");
    if (strlen(path) >= PATH_MAX) return err_fail(SC_ERR_ARG, "file path too long (%zu bytes)", strlen(path));
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_fail(SC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_fail(SC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(SC_ERR_IO, "%s: not a regular file%s", path,
                       S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
    }
    *fd_out = fd;
    *size_out = (uint64_t)st.st_size;
    return SC_OK;
}

sc_status file_map(const char *path, file_mapping *m)
{
    int fd;
    uint64_t size;
    m->data = NULL;
    m->size = 0;
    sc_status s = open_regular(path, &fd, &size);
    if (s) return s;
    if (size > 0) {
        if (size > (uint64_t)SIZE_MAX) {
            close(fd);
            return err_fail(SC_ERR_IO, "%s: file too large to map", path);
        }
        void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return err_fail(SC_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        m->data = p;
    }
    close(fd);
    m->size = size;
    return SC_OK;
}

void file_unmap(file_mapping *m)
{
    if (m->data) munmap((void *)m->data, (size_t)m->size);
    m->data = NULL;
    m->size = 0;
}

sc_status file_read_small(const char *path, uint64_t cap, char **buf, size_t *len)
{
    int fd;
    uint64_t size;
    *buf = NULL;
    sc_status s = open_regular(path, &fd, &size);
    if (s) return s;
    if (size > cap) {
        close(fd);
        return err_fail(SC_ERR_FORMAT, "%s: file is %llu bytes, more than the %llu allowed", path,
                       (unsigned long long)size, (unsigned long long)cap);
    }
    char *p = malloc((size_t)size + 1);
    if (!p) {
        close(fd);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, p + got, (size_t)size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(p);
            close(fd);
            return err_fail(SC_ERR_IO, "%s: read failed: %s", path, e ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    p[got] = '\0';
    *buf = p;
    if (len) *len = got;
    return SC_OK;
}

int file_is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int file_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

sc_status file_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    int n = snprintf(out, cap, "%s%s%s", dir, slash ? "" : "/", name);
    if (n < 0 || (size_t)n >= cap) return err_fail(SC_ERR_ARG, "path too long: %s/%s", dir, name);
    return SC_OK;
}

sc_status file_out_check(const char *path, int force)
{
    struct stat st;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty output path");
    if (strlen(path) >= 4000) return err_fail(SC_ERR_ARG, "output path too long");
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (strlen(name) > NAME_MAX)
        return err_fail(SC_ERR_ARG, "%s: the file name is %zu bytes; names are at most %d", path, strlen(name), NAME_MAX);
    if (!*name) return err_fail(SC_ERR_ARG, "%s: names a folder, not a file", path);
    if (lstat(path, &st) == 0) {
        /* a folder (or link, device...) is never replaced, force or not: say so first */
        if (S_ISDIR(st.st_mode))
            return err_fail(SC_ERR_IO, "%s: is a folder; give a file name (in it, or another)", path);
        if (!S_ISREG(st.st_mode))
            return err_fail(SC_ERR_IO, "%s: exists and is not a regular file; not overwriting", path);
        if (!force)
            return err_fail(SC_ERR_EXISTS, "%s: already exists (set force to overwrite)", path);
    } else if (errno != ENOENT) {
        return err_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
    }
    /* The folder it goes in must exist and take new files (checked now, not after the work; a
     * parent that is not a folder already failed lstat with ENOTDIR above). */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) return err_fail(SC_ERR_IO, "%s: cannot create: folder %s: %s", path, dir, strerror(errno));
    if (access(dir, W_OK | X_OK) != 0)
        return err_fail(SC_ERR_IO, "%s: cannot create in folder %s: %s", path, dir, strerror(errno));
    return SC_OK;
}

/* The mode new files get: 0666 less the process's umask, as open(2) would give them. */
static mode_t g_new_mode;

static void read_umask(void)
{
    const mode_t m = umask(077);
    umask(m);
    g_new_mode = 0666 & ~m;
}

/* The start of `name` that fits a temporary name ".<start>.tmp.<pid>.XXXXXX" within NAME_MAX
 * bytes, cut before a UTF-8 continuation byte; its length. */
static size_t temp_prefix_len(const char *name, long pid)
{
    char digits[24];
    const size_t fixed = 1 + 5 + (size_t)snprintf(digits, sizeof digits, "%ld", pid) + 7;
    size_t n = strlen(name);
    if (n + fixed <= NAME_MAX) return n;
    n = NAME_MAX - fixed;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
    return n;
}

sc_status file_out_open(file_out *o, const char *path, int force)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    o->fd = -1;
    o->tmp[0] = '\0';
    sc_status s = file_out_check(path, force);
    if (s) return s;
    snprintf(o->path, sizeof o->path, "%s", path);
    o->force = force;
    /* The temporary file lives in the target's folder so that rename() stays atomic; its name
     * carries our pid so that a later run can remove it if this process is killed. */
    const char *slash = strrchr(path, '/');
    const int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    const long pid = (long)getpid();
    const int keep = (int)temp_prefix_len(base, pid);
    char dir[4096], prefix[NAME_MAX + 1];
    snprintf(dir, sizeof dir, "%.*s", dirlen ? dirlen : 1, dirlen ? path : ".");
    snprintf(prefix, sizeof prefix, "%.*s", keep, base);
    tempfiles_sweep(dir, prefix);
    snprintf(o->tmp, sizeof o->tmp, "%.*s.%s.tmp.%ld.XXXXXX", dirlen, path, prefix, pid);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        int e = errno;
        o->tmp[0] = '\0';
        return err_fail(SC_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    tempfiles_add(o->tmp);
    pthread_once(&once, read_umask);
    fchmod(o->fd, g_new_mode);
    return SC_OK;
}

sc_status file_out_write(file_out *o, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            file_out_abort(o);
            return err_fail(SC_ERR_IO, "%s: write failed: %s", o->path, strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    return SC_OK;
}

sc_status file_out_commit(file_out *o)
{
    if (fsync(o->fd) != 0 || close(o->fd) != 0) {
        int e = errno;
        o->fd = -1;
        file_out_abort(o);
        return err_fail(SC_ERR_IO, "%s: write failed: %s", o->path, strerror(e));
    }
    o->fd = -1;
    int r = o->force ? rename(o->tmp, o->path)
                     : renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_NOREPLACE);
    if (r != 0) {
        int e = errno;
        file_out_abort(o);
        if (e == EEXIST)
            return err_fail(SC_ERR_EXISTS, "%s: already exists (set force to overwrite)", o->path);
        return err_fail(SC_ERR_IO, "%s: cannot rename into place: %s", o->path, strerror(e));
    }
    tempfiles_remove(o->tmp);
    o->tmp[0] = '\0';
    return SC_OK;
}

void file_out_abort(file_out *o)
{
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp[0]) {
        unlink(o->tmp);
        tempfiles_remove(o->tmp);
    }
    o->tmp[0] = '\0';
}

void file_list_dir(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    int count = 0;
    buf[0] = '\0';
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n + 1 < cap) {
        if (e->d_name[0] == '.') continue;
        if (count++ == 8) { snprintf(buf + n, cap - n, ", ..."); break; }
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", e->d_name);
    }
    closedir(d);
    if (!count) snprintf(buf, cap, "nothing");
}

void file_release_pages(const void *p, size_t bytes)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + bytes) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
