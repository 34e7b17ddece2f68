/* Standard base64 (RFC 4648, '+' and '/', '=' padding), decoded strictly: a length that is not a
 * multiple of 4, a byte outside the alphabet, misplaced padding or nonzero padding bits are all
 * errors. */
#ifndef SC_IO_BASE64_H
#define SC_IO_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

/* Decodes s[0 .. n) into a malloc'ed buffer (*out, *out_len); `what` names the source. */
sc_status base64_decode(const char *s, size_t n, const char *what, uint8_t **out, size_t *out_len);

#endif
