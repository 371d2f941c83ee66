/* tapset_ctime.c - ctime() and the local time zone (tz_gmtoff, tz_name).
 *
 * ctime keeps stap's 32-bit range so its result is always 24 characters;
 * the time zone is the runtime's at start-up, as staprun passes it to stap.
 */
#define _GNU_SOURCE  /* tm_gmtoff, tm_zone */
#include "tapset_support.h"

#include <stdio.h>
#include <time.h>

int tapset_ctime(char *out, size_t size, int64_t secs)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)secs;
	struct tm tm;

	out[0] = '\0';
	if (secs > INT32_MAX)
		return 1;
	if (secs < INT32_MIN)
		return -1;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	snprintf(out, size, "%s %s%3d %02d:%02d:%02d %d", days[tm.tm_wday], months[tm.tm_mon],
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	return 0;
}

/* The zone in force when first asked, kept for the whole run. */
static const struct tm *startup_zone(void)
{
	static struct tm zone;
	static int known;
	time_t now;

	if (!known) {
		known = 1;
		tzset();
		now = time(NULL);
		if (localtime_r(&now, &zone) == NULL) {
			zone.tm_gmtoff = 0;
			zone.tm_zone = "UTC";
		}
	}
	return &zone;
}

int64_t tapset_tz_gmtoff(void)
{
	return -(int64_t)startup_zone()->tm_gmtoff;
}

const char *tapset_tz_name(void)
{
	const char *name = startup_zone()->tm_zone;
	return name ? name : "";
}
