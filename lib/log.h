/*
 * Logging for every tsamba process: syslog (facility mail) once a daemon
 * runs in the background, stderr when started in the foreground with -d:
 * each line with an ISO 8601 time (timefmt.h) in front, or, when stderr
 * is the systemd journal (JOURNAL_STREAM), with sd-daemon(3)'s "<N>"
 * priority prefix instead, since journald stamps the line itself.
 */

#ifndef TSAMBA_LOG_H
#define TSAMBA_LOG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * debug != 0: log to stderr as the lines are (a tool, or a daemon before
 * it is set up); otherwise syslog(3) with LOG_MAIL.
 */
void	log_init(int debug, const char *progname);
/* A daemon from here on: foreground lines carry the time. */
void	log_init_daemon(int foreground, const char *progname);
/* stderr is the stream JOURNAL_STREAM names (systemd.exec(5)). */
int	log_stderr_is_journal(void);
/* Client text for a log field: " \\ and control characters escaped. */
const char *log_quote(char *dst, size_t dstsz, const char *src);
/*
 * The quoted address of a "FROM:<a>" / "TO:<a>" argument (keyword is
 * "FROM:" or "TO:"), cut to LOG_PATH_MAX - 1 bytes before quoting.
 */
#define LOG_PATH_MAX	512
const char *log_path(char *dst, size_t dstsz, const char *args,
	    const char *keyword);
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
