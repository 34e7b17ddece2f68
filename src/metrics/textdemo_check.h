/* The analytic checker of the shipped text-to-image model's pictures (tools/textdemo/check.py,
 * ported exactly): the colour, shape and background a 32x32 RGB picture of one shape shows, and
 * whether they are what a prompt names. */
#ifndef SC_METRICS_TEXTDEMO_CHECK_H
#define SC_METRICS_TEXTDEMO_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* The indices check.py's read() gives, each -1 when not seen: colour (red, green, blue, yellow,
 * magenta, cyan), shape (circle, triangle, frame, ring), background (dark, light). */
void textdemo_read(const uint8_t *img, int *colour, int *shape, int *background);
/* 1 when the picture shows the prompt's colour and shape (and background when it names one), 0
 * when not, -1 when the prompt names no known colour or shape. */
int textdemo_shows(const uint8_t *img, const char *prompt, size_t len);

#endif
