/* The policies a --cache specification can name: one line each. */
#include <stdio.h>
#include <string.h>

#include "cache/policy.h"

/* Adding a policy: its file defines `const cache_policy_ops cache_<name>`; add one line here. */
#define CACHE_POLICIES(X) \
    X(none)               \
    X(fora)               \
    X(smooth)             \
    X(taylorseer)         \
    X(abcache)            \
    X(adacache)           \
    X(teacache)           \
    X(magcache)           \
    X(fbcache)            \
    X(dbcache)            \
    X(fastercache)

#define DECLARE(name) extern const cache_policy_ops cache_##name;
CACHE_POLICIES(DECLARE)
#define ENTRY(name) &cache_##name,
static const cache_policy_ops *const k_policies[] = {CACHE_POLICIES(ENTRY)};

#define N_POLICIES (int)(sizeof k_policies / sizeof *k_policies)

const cache_policy_ops *cache_policy_find(const char *name)
{
    for (int i = 0; i < N_POLICIES; i++)
        if (!strcmp(k_policies[i]->name, name)) return k_policies[i];
    return NULL;
}

const cache_policy_ops *cache_policy_at(int i) { return i >= 0 && i < N_POLICIES ? k_policies[i] : NULL; }

const char *cache_policy_names(void)
{
    static char buf[256];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_POLICIES && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", k_policies[i]->name);
    return buf;
}
