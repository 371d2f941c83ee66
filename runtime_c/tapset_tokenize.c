/* tapset_tokenize.c - tokenize(): the next non-empty token of a remembered string.
 *
 * stap keeps the string being tokenized in the probe context between calls;
 * handlers here run one at a time, so one remembered string serves them all.
 */
#include "tapset_support.h"

#include <stdlib.h>
#include <string.h>

static char *remembered;     /* copy of the last non-empty input */
static size_t capacity;      /* bytes allocated for it */
static size_t position;      /* where the next token search starts */
static int exhausted = 1;    /* no more tokens until a new input arrives */

/* Copies `input` (truncated to size-1 bytes) as the new string to tokenize. */
static void remember(const char *input, size_t size)
{
	if (capacity < size) {
		char *grown = realloc(remembered, size);
		if (grown == NULL) {
			exhausted = 1;
			return;
		}
		remembered = grown;
		capacity = size;
	}
	strncpy(remembered, input, size - 1);
	remembered[size - 1] = '\0';
	position = 0;
	exhausted = 0;
}

void tapset_tokenize(char *out, size_t size, const char *input, const char *delim)
{
	size_t length;

	out[0] = '\0';
	if (input[0])
		remember(input, size);
	if (exhausted)
		return;
	position += strspn(remembered + position, delim);
	length = strcspn(remembered + position, delim);
	if (remembered[position] == '\0') {
		exhausted = 1;
		return;
	}
	if (length > size - 1)
		length = size - 1;
	memcpy(out, remembered + position, length);
	out[length] = '\0';
	position += length;
	if (remembered[position])
		position++;  /* step over the delimiter that ended the token */
	else
		exhausted = 1;
}
