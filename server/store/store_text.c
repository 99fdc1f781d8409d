/* Text as every backend keeps it (store_text.h). */
#include "store/store_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

size_t store_text_len(const char *text, size_t size)
{
    size_t n = strnlen(text, size - 1);
    if (n == size - 1 && text[n] != '\0') {
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    return n;
}

char *store_like_pattern(const char *text)
{
    size_t n = store_text_len(text, STORE_TEXT);
    char *p = malloc(2 * n + 3);
    if (p == NULL)
        return NULL;
    size_t j = 0;
    p[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\')
            p[j++] = '\\';
        p[j++] = text[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    return p;
}

store_status store_request_expect(store_status ret, const store_request *r, int64_t id,
                                  request_state expected, char *why, size_t whylen)
{
    if (ret == STORE_NOT_FOUND)
        snprintf(why, whylen, "store: no request with id %lld", (long long)id);
    if (ret != STORE_OK)
        return ret;
    if (r->state == expected)
        return STORE_OK;
    snprintf(why, whylen, "store: request %lld is %s, not %s", (long long)id,
             request_state_name(r->state), request_state_name(expected));
    return STORE_CONFLICT;
}
