/*
 * Logging for every tsamba process: syslog (facility mail) once a daemon
 * runs in the background, stderr when started in the foreground with -d.
 */

#ifndef TSAMBA_LOG_H
#define TSAMBA_LOG_H

#include <stdarg.h>

/* debug != 0: log to stderr; otherwise syslog(3) with LOG_MAIL. */
void	log_init(int debug, const char *progname);
/* Name of the process (e.g. "smtp", "queue"), prefixed to every line. */
void	log_procname(const char *);
void	log_setverbose(int);

void	log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
/* fatal appends strerror(errno); both exit(1). */
void	fatal(const char *, ...)
	    __attribute__((__noreturn__, __format__ (printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((__noreturn__, __format__ (printf, 1, 2)));

#endif
