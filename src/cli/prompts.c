/* Prompts for the commands that take them (encode, generate): from repeated --prompt flags and
 * from a file of one prompt a line, UTF-8 checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/prompts.h"
#include "smoothcache_tools.h"

int prompts_add(prompt_list *l, const char *s, size_t len)
{
    if (l->n == MAX_PROMPTS) return 0;
    if (l->n == l->cap) {
        const int cap = l->cap ? 2 * l->cap : 64;
        char **t = realloc(l->text, (size_t)cap * sizeof *t);
        size_t *n = t ? realloc(l->len, (size_t)cap * sizeof *n) : NULL;
        if (!t || !n) {
            if (t) l->text = t;
            return 0;
        }
        l->text = t;
        l->len = n;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return 0;
    memcpy(c, s, len);
    c[len] = '\0';
    l->text[l->n] = c;
    l->len[l->n++] = len;
    return 1;
}

int prompts_read(const cli_args *a, const char *path, prompt_list *l)
{
    /* "-": the standard input (a pipe, a here-document) */
    const int std_in = !strcmp(path, "-");
    struct stat st;
    if (!std_in && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "smoothcache %s: %s: is a folder, not a file of prompts (one a line)\n", a->command, path);
        return CLI_EXIT_FAIL;
    }
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "smoothcache %s: %s: cannot open: ", a->command, path);
        perror(NULL);
        return CLI_EXIT_FAIL;
    }
    char *buf = malloc(MAX_PROMPTS_FILE + 1);
    const size_t n = buf ? fread(buf, 1, MAX_PROMPTS_FILE + 1, f) : 0; /* to the end, a pipe's too */
    const int err = ferror(f);
    if (!std_in) fclose(f);
    if (!buf || err) {
        const int oom = !buf;
        free(buf);
        fprintf(stderr, "smoothcache %s: %s: cannot read%s\n", a->command, std_in ? "the standard input" : path,
                oom ? " (out of memory)" : "");
        return CLI_EXIT_FAIL;
    }
    if (n > MAX_PROMPTS_FILE) {
        free(buf);
        fprintf(stderr, "smoothcache %s: %s: larger than %u MB\n", a->command, path, MAX_PROMPTS_FILE >> 20);
        return CLI_EXIT_FAIL;
    }
    int r = 0;
    size_t start = 0, line = 1;
    while (start < n && !r) {
        size_t end = start;
        while (end < n && buf[end] != '\n') end++;
        size_t len = end - start;
        if (len && buf[start + len - 1] == '\r') len--;
        const size_t bad = sc_utf8_check(buf + start, len);
        if (memchr(buf + start, '\0', len)) {
            fprintf(stderr, "smoothcache %s: %s: line %zu holds a NUL byte\n", a->command, path, line);
            r = CLI_EXIT_FAIL;
        } else if (bad != len) {
            fprintf(stderr, "smoothcache %s: %s: line %zu is not valid UTF-8 (byte %zu of the line)\n", a->command,
                    path, line, bad + 1);
            r = CLI_EXIT_FAIL;
        } else if (!prompts_add(l, buf + start, len)) {
            fprintf(stderr, "smoothcache %s: %s: more than %d prompts, or out of memory\n", a->command, path,
                    MAX_PROMPTS);
            r = CLI_EXIT_FAIL;
        }
        start = end + 1;
        line++;
    }
    free(buf);
    return r;
}

void prompts_free(prompt_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->text[i]);
    free(l->text);
    free(l->len);
}
