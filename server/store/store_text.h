/* Text as every backend keeps it: cut to its field's size at a UTF-8 character boundary, and
 * the substring pattern of a subject filter. */
#ifndef SCEPD_STORE_TEXT_H
#define SCEPD_STORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The length of text within a field of `size` bytes (NUL included), cut back to a UTF-8
 * character boundary when the text does not fit. */
size_t store_text_len(const char *text, size_t size);

/* "%text%" for LIKE ... ESCAPE '\', with the wildcards and the escape character in text (at
 * most STORE_TEXT - 1 bytes of it) taken literally. Caller frees; NULL when out of memory. */
char *store_like_pattern(const char *text);

/* Whether a lookup of request id (ret, and its record r when STORE_OK) found it in state
 * expected: STORE_OK, or ret / STORE_CONFLICT with the reason in why, as every backend words it. */
store_status store_request_expect(store_status ret, const store_request *r, int64_t id,
                                  request_state expected, char *why, size_t whylen);

#endif
