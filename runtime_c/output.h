/* output.h - runtime-internal output plumbing (the public services are in runtime.h). */
#ifndef STP_OUTPUT_H
#define STP_OUTPUT_H

#include <stddef.h>

struct relay;
extern struct relay *stp_relay; /* the channel writer, or the text-mode writer */

void stp_report_warning(const char *msg); /* "WARNING: msg" */
void stp_report_error(const char *msg);   /* "ERROR: msg" */
/* Output what `format` produces; like snprintf it returns the length it needs. */
void stp_output_formatted(int (*format)(char *buf, size_t size, void *arg), void *arg);

#endif
