/* The library context: algorithm policy, OpenSSL library context, log callback. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/provider.h>

#include "internal.h"

static scep_err load_legacy(scep_ctx *ctx)
{
    /* A private library context so that turning on single DES never changes what the rest of
     * the process (or another scep_ctx) may use. */
    ctx->libctx = OSSL_LIB_CTX_new();
    if (ctx->libctx == NULL)
        return SCEP_E_NOMEM;
    ctx->default_provider = OSSL_PROVIDER_load(ctx->libctx, "default");
    ctx->legacy_provider = OSSL_PROVIDER_load(ctx->libctx, "legacy");
    if (ctx->default_provider == NULL || ctx->legacy_provider == NULL)
        return SCEP_E_INTERNAL;
    return SCEP_OK;
}

/* Loading the null provider explicitly keeps OpenSSL from falling back to the default one. */
static scep_err make_keyless(scep_ctx *ctx)
{
    ctx->keyless_libctx = OSSL_LIB_CTX_new();
    if (ctx->keyless_libctx == NULL)
        return SCEP_E_NOMEM;
    ctx->null_provider = OSSL_PROVIDER_load(ctx->keyless_libctx, "null");
    return ctx->null_provider != NULL ? SCEP_OK : SCEP_E_INTERNAL;
}

scep_err scep_ctx_new(const scep_ctx_options *opts, scep_ctx **out)
{
    if (out == NULL)
        return SCEP_E_INVALID_ARG;
    *out = NULL;
    scep_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return SCEP_E_NOMEM;
    if (opts != NULL) {
        ctx->allow_legacy = opts->allow_legacy != 0;
        ctx->log = opts->log;
        ctx->log_arg = opts->log_arg;
    }
    scep_err err = make_keyless(ctx);
    if (err == SCEP_OK && ctx->allow_legacy)
        err = load_legacy(ctx);
    if (err == SCEP_OK && (scepi_algorithms_fetch(ctx) != 0 || scepi_attr_objs_new(ctx) != 0))
        err = SCEP_E_INTERNAL;
    if (err != SCEP_OK) {
        scep_ctx_free(ctx);
        return err;
    }
    *out = ctx;
    return SCEP_OK;
}

void scep_ctx_free(scep_ctx *ctx)
{
    if (ctx == NULL)
        return;
    scepi_algorithms_free(ctx);
    scepi_attr_objs_free(ctx);
    OSSL_PROVIDER_unload(ctx->legacy_provider);
    OSSL_PROVIDER_unload(ctx->default_provider);
    OSSL_LIB_CTX_free(ctx->libctx);
    OSSL_PROVIDER_unload(ctx->null_provider);
    OSSL_LIB_CTX_free(ctx->keyless_libctx);
    free(ctx);
}

OSSL_LIB_CTX *scep_ctx_libctx(const scep_ctx *ctx)
{
    return ctx ? ctx->libctx : NULL;
}

int scep_ctx_allows_legacy(const scep_ctx *ctx)
{
    return ctx != NULL && ctx->allow_legacy;
}

void scepi_log(const scep_ctx *ctx, scep_log_level level, const char *fmt, ...)
{
    if (ctx == NULL || ctx->log == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_arg, level, line);
}
