/*
 * Logging: one line per event, to syslog (facility mail) or, in the
 * foreground, to stderr with the process name in front.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int		 log_debug_mode;
static int		 log_verbose;
static const char	*log_proc = "";

static void	vlog(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
static void	log_message(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

void
log_init(int debug, const char *progname)
{
	log_debug_mode = debug;
	if (!debug)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
	tzset();
}

void
log_procname(const char *name)
{
	log_proc = name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_debug_mode) {
		if (*log_proc != '\0')
			fprintf(stderr, "%s: %s\n", log_proc, msg);
		else
			fprintf(stderr, "%s\n", msg);
		fflush(stderr);
	} else if (*log_proc != '\0')
		syslog(pri, "%s: %s", log_proc, msg);
	else
		syslog(pri, "%s", msg);
}

static void
vlog_errno(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_message(pri, "%s: %s", msg, strerror(saved));
	errno = saved;
}

static void
log_message(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
