/* Safe file access: opening untrusted paths, mapping checkpoints, reading small text files, and
 * writing outputs atomically (temporary name + rename, never overwriting unless asked). */
#ifndef SC_IO_FILE_H
#define SC_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

typedef struct {
    const uint8_t *data; /* NULL when size == 0 */
    uint64_t size;
} file_mapping;

/* Maps a regular file read-only. Refuses directories, FIFOs and devices (a FIFO would hang). */
sc_status file_map(const char *path, file_mapping *m);
void file_unmap(file_mapping *m);
/* Returns the whole pages inside [p, p + bytes) of a read-only file mapping to the kernel (they
 * are read again from the file if ever touched). */
void file_release_pages(const void *p, size_t bytes);

/* Reads a whole regular file of at most `cap` bytes into a NUL-terminated heap buffer. */
sc_status file_read_small(const char *path, uint64_t cap, char **buf, size_t *len);

/* 1 if `path` names an existing regular file / directory. */
int file_is_regular(const char *path);
int file_is_dir(const char *path);

/* The first entries of a folder for a message ("a, b, c, ..." or "nothing"). */
void file_list_dir(const char *dir, char *buf, size_t cap);

/* dir + "/" + name into out (cap bytes); SC_ERR_ARG if too long. */
sc_status file_join(char *out, size_t cap, const char *dir, const char *name);

/* Output written to a temporary file beside `path`, renamed into place by file_out_commit. */
typedef struct {
    int fd;
    char path[4096];
    char tmp[4096];
    int force;
} file_out;

/* Fails with SC_ERR_EXISTS if `path` exists and !force; refuses symlinks and non-regular
 * targets even with force. Creates no directories. */
sc_status file_out_check(const char *path, int force);
sc_status file_out_open(file_out *o, const char *path, int force);
sc_status file_out_write(file_out *o, const void *data, size_t n);
/* fsync + rename into place; on any failure the temporary file is removed. */
sc_status file_out_commit(file_out *o);
/* Removes the temporary file (after an error elsewhere). Safe to call twice. */
void file_out_abort(file_out *o);

#endif
