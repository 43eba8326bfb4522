/*
 * Logging: one line per event, to syslog (facility mail) or, in the
 * foreground, to stderr: with an ISO 8601 time in front for a daemon,
 * or, when stderr is the systemd journal, with the "<N>" priority
 * prefix of sd-daemon(3) and no time (journald stamps each line).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"

enum log_dest {
	LOG_DEST_SYSLOG,
	LOG_DEST_STDERR,	/* a tool's messages, as they are */
	LOG_DEST_STAMPED,	/* a daemon in the foreground */
	LOG_DEST_JOURNAL,	/* stderr is a journald stream */
};

static enum log_dest	 log_dest = LOG_DEST_STDERR;
static int		 log_verbose;
static const char	*log_proc = "";

static void	log_setup(enum log_dest, const char *);
static void	vlog(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
static void	log_message(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

void
log_init(int debug, const char *progname)
{
	log_setup(debug ? LOG_DEST_STDERR : LOG_DEST_SYSLOG, progname);
}

void
log_init_daemon(int foreground, const char *progname)
{
	log_setup(foreground ? LOG_DEST_STAMPED : LOG_DEST_SYSLOG, progname);
}

/*
 * systemd.exec(5): JOURNAL_STREAM is "device:inode" in decimal of the
 * stream stdout/stderr was connected to.  Only when it is still our
 * stderr does journald read what we write (a child whose stderr was
 * redirected inherits the variable but not the stream).
 */
int
log_stderr_is_journal(void)
{
	const char		*env;
	char			*end;
	unsigned long long	 dev, ino;
	struct stat		 st;

	if ((env = getenv("JOURNAL_STREAM")) == NULL || *env == '\0')
		return (0);
	errno = 0;
	dev = strtoull(env, &end, 10);
	if (errno != 0 || end == env || *end != ':')
		return (0);
	env = end + 1;
	ino = strtoull(env, &end, 10);
	if (errno != 0 || end == env || *end != '\0')
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return ((unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino);
}

static void
log_setup(enum log_dest dest, const char *progname)
{
	if (dest != LOG_DEST_SYSLOG && log_stderr_is_journal())
		dest = LOG_DEST_JOURNAL;
	if (dest == LOG_DEST_SYSLOG && log_dest != LOG_DEST_SYSLOG)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_dest = dest;
	/* Before any chroot: localtime_r() keeps what this read. */
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

/*
 * One write(2) per line, so that the lines of the processes sharing
 * stderr never interleave.
 */
static void
log_stderr(int pri, const char *msg)
{
	char	 line[1200], when[TIME_ISO8601_SIZE];
	int	 n;

	switch (log_dest) {
	case LOG_DEST_JOURNAL:
		n = snprintf(line, sizeof(line), "<%d>%s%s%s\n",
		    LOG_PRI(pri), log_proc, *log_proc ? ": " : "", msg);
		break;
	case LOG_DEST_STAMPED:
		time_iso8601(time(NULL), when, sizeof(when));
		n = snprintf(line, sizeof(line), "%s %s%s%s\n", when,
		    log_proc, *log_proc ? ": " : "", msg);
		break;
	default:
		n = snprintf(line, sizeof(line), "%s%s%s\n", log_proc,
		    *log_proc ? ": " : "", msg);
		break;
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)write(STDERR_FILENO, line, n);
}

/*
 * The last guard against a forged line: a control character that made
 * it into a message (client text a caller did not log_quote(), a
 * remote server's reply) becomes \xHH, so that one event stays one
 * line with no terminal escapes in it, whoever reads it.
 */
static void
log_clean(char *dst, size_t dstsz, const char *src)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 i = 0;

	for (; (c = *src) != '\0' && i + 1 < dstsz; src++) {
		if (c >= 0x20 && c != 0x7f) {
			dst[i++] = c;
			continue;
		}
		if (i + 4 >= dstsz)
			break;
		dst[i++] = '\\';
		dst[i++] = 'x';
		dst[i++] = hex[c >> 4];
		dst[i++] = hex[c & 0xf];
	}
	dst[i] = '\0';
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 raw[1024], msg[1024];
	int	 saved = errno;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_clean(msg, sizeof(msg), raw);
	if (log_dest != LOG_DEST_SYSLOG)
		log_stderr(pri, msg);
	else if (*log_proc != '\0')
		syslog(pri, "%s: %s", log_proc, msg);
	else
		syslog(pri, "%s", msg);
	errno = saved;
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

/*
 * Client text in a log line: a quote, a backslash and every control
 * character become \" \\ \xHH, so that a field cannot end early, start
 * a new line or forge another field for grep or fail2ban.
 */
const char *
log_quote(char *dst, size_t dstsz, const char *src)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 i = 0;

	if (dstsz == 0)
		return (dst);
	for (; (c = *src) != '\0'; src++) {
		if (c == '"' || c == '\\') {
			if (i + 2 >= dstsz)
				break;
			dst[i++] = '\\';
			dst[i++] = c;
		} else if (c < 0x20 || c == 0x7f) {
			if (i + 4 >= dstsz)
				break;
			dst[i++] = '\\';
			dst[i++] = 'x';
			dst[i++] = hex[c >> 4];
			dst[i++] = hex[c & 0xf];
		} else {
			if (i + 1 >= dstsz)
				break;
			dst[i++] = c;
		}
	}
	dst[i] = '\0';
	return (dst);
}

/*
 * The address a MAIL FROM:<a> or RCPT TO:<a> argument names, as the
 * client wrote it (a line refused as bad syntax still says what was
 * tried), quoted: the text in the brackets, or the first word after the
 * keyword.
 */
const char *
log_path(char *dst, size_t dstsz, const char *args, const char *keyword)
{
	char		 raw[LOG_PATH_MAX];
	const char	*p = args, *end;
	size_t		 klen = strlen(keyword);

	if (strncasecmp(p, keyword, klen) == 0)
		p += klen;
	while (*p == ' ')
		p++;
	if (*p == '<' && (end = strchr(p + 1, '>')) != NULL)
		p++;
	else
		end = p + strcspn(p, " ");
	if ((size_t)(end - p) >= sizeof(raw))
		end = p + sizeof(raw) - 1;
	memcpy(raw, p, end - p);
	raw[end - p] = '\0';
	return (log_quote(dst, dstsz, raw));
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
