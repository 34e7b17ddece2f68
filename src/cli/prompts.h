/* Prompts for the commands that take them: a growing list, read from a file of one prompt a line. */
#ifndef SC_CLI_PROMPTS_H
#define SC_CLI_PROMPTS_H

#include <stddef.h>

#include "cli/args.h"

#define MAX_PROMPTS 1000000
#define MAX_PROMPTS_FILE (64u << 20)

typedef struct {
    char **text;
    size_t *len;
    int n, cap;
} prompt_list;

/* Appends a copy of s[0, len); 0 when the list is full or memory is out. */
int prompts_add(prompt_list *l, const char *s, size_t len);
/* One prompt per line; '\r' before '\n' dropped; no line after a final newline. Invalid UTF-8 or
 * a NUL byte is named by its line. Returns an exit status. */
int prompts_read(const cli_args *a, const char *path, prompt_list *l);
void prompts_free(prompt_list *l);

#endif
