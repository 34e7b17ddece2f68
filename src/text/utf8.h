/* UTF-8 as the tokenizers read it: strict decoding (no overlong forms, no surrogates, nothing past
 * U+10FFFF), SentencePiece's one-character length table, and encoding. */
#ifndef SC_TEXT_UTF8_H
#define SC_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The byte length of the character that starts with byte b, from its top four bits alone, as
 * SentencePiece steps through normalised (valid) text: 1, 2, 3 or 4. */
static inline int utf8_len_of_lead(uint8_t b)
{
    static const uint8_t k[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k[b >> 4];
}

/* Decodes one character of s[0 .. n); returns its length (1..4) and the code point, or 0 when
 * the bytes there are not a well-formed character. */
int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* The offset of the first byte that does not start a well-formed character, or n when all of
 * s[0 .. n) is valid UTF-8. */
size_t utf8_check(const uint8_t *s, size_t n);

/* Writes cp (a scalar value) to out (4 bytes of room); returns the length. */
int utf8_encode(uint32_t cp, uint8_t *out);

/* Unicode's White_Space property (what Rust's char::is_whitespace tests). */
int utf8_is_white_space(uint32_t cp);

#endif
