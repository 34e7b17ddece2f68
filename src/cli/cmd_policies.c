/* smoothcache policies: every cache policy --cache can name, what it does and its options. */
#include <stdio.h>

#include "cache/policy.h"
#include "cli/commands.h"

int cmd_policies(int argc, char **argv)
{
    cli_args a = {"policies", "List the feature-caching policies that --cache accepts, with their options.", "",
                  "A specification is NAME[:key=value[,key=value...]], e.g. --cache fora:n=2 or\n"
                  "--cache smooth:schedule=schedule.json; every key is validated, unknown keys are errors.\n"
                  "Sub-layer policies (fora, smooth, taylorseer, abcache, fastercache's attention) decide per\n"
                  "block and sub-layer; step-level ones (adacache, teacache, magcache, fbcache, dbcache) skip\n"
                  "runs of whole blocks.\n",
                  NULL, 0, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    const cache_policy_ops *ops;
    for (int i = 0; (ops = cache_policy_at(i)) != NULL; i++)
        printf("%-12s %s\n%-12s   options: %s\n", ops->name, ops->about, "", ops->options);
    return 0;
}
