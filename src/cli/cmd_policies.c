/* smoothcache policies: every cache policy --cache can name, what it does and its options. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_policies(int argc, char **argv)
{
    cli_args a = {"policies", "List the feature-caching policies that --cache accepts, with their options.", "",
                  "A specification is NAME[:key=value[,key=value...]], e.g. --cache fora:n=2 or\n"
                  "--cache smooth:schedule=schedule.json; every key is validated, unknown keys are errors.\n"
                  "Sub-layer policies (fora, smooth, taylorseer, abcache, fastercache's attention) decide per\n"
                  "block and sub-layer; step-level ones (adacache, teacache, magcache, fbcache, dbcache) skip\n"
                  "runs of whole blocks. Policies that need measured data say what `calibrate --for NAME`\n"
                  "measures for them.\n",
                  NULL, 0, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_policy_desc d;
    for (int i = 0; sc_policy_at(i, &d); i++) {
        printf("%-12s %s\n%-12s   options: %s\n", d.name, d.about, "", d.options);
        if (d.calibration)
            printf("%-12s   calibrate --for %s: %s (%d sample%s by default; %s)\n", "", d.name, d.calibration,
                   d.calibration_samples, d.calibration_samples == 1 ? "" : "s", d.calibration_options);
    }
    printf("every policy also takes store=f32|bf16: the stored sub-layer outputs in float32 (default) or bf16\n"
           "(half the cache memory, widened when reused; e.g. --cache fora:n=2,store=bf16)\n");
    return 0;
}
