/* libFuzzer: a validation webhook's answer (validate_parse_answer). What parses is a verdict
 * the enrollment can act on: a printable reason within its bound, a validity in range, names
 * of the four allowed types and no more of them than the limit; what does not leaves nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    validate_verdict v;
    char err[256];
    if (validate_parse_answer((const char *)data, size, &v, err, sizeof(err)) != 0) {
        if (v.sans != NULL || v.reason[0] != '\0' || err[0] == '\0')
            abort();
        return 0;
    }
    size_t n = strlen(v.reason);
    for (size_t i = 0; i < n; i++)
        if (v.reason[i] < 0x20 || v.reason[i] > 0x7e)
            abort();
    if (n > VALIDATE_REASON || v.validity_days < 0 || v.validity_days > 36500 ||
        (v.result != VALIDATE_ALLOW && v.result != VALIDATE_DENY) ||
        sk_GENERAL_NAME_num(v.sans) > VALIDATE_MAX_SANS)
        abort();
    for (int i = 0; i < sk_GENERAL_NAME_num(v.sans); i++) {
        int type = sk_GENERAL_NAME_value(v.sans, i)->type;
        if (type != GEN_DNS && type != GEN_IPADD && type != GEN_EMAIL && type != GEN_URI)
            abort();
    }
    validate_verdict_clear(&v);
    return 0;
}
