/*
 * Unit tests for lib/log.c and lib/timefmt.c: what a daemon in the
 * foreground writes to stderr (an ISO 8601 time in front), what it writes
 * when JOURNAL_STREAM names its stderr (a pipe standing in for journald:
 * "<N>" priorities, no time), JOURNAL_STREAM values that must not count,
 * the quoting of client text, and times with their UTC offsets.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"
#include "unit.h"

static int	 pipe_rd = -1, pipe_wr = -1, saved_stderr = -1;

/* stderr into a fresh pipe; JOURNAL_STREAM as "dev:ino" of it (+bump). */
static void
capture(int journal, int bump)
{
	struct stat	 st;
	char		 env[64];
	int		 p[2];

	CHECK(pipe(p) == 0);
	CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
	if (saved_stderr == -1)
		saved_stderr = dup(STDERR_FILENO);
	CHECK(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
	close(p[1]);
	pipe_rd = p[0];
	pipe_wr = STDERR_FILENO;
	CHECK(fstat(STDERR_FILENO, &st) == 0);
	if (journal) {
		snprintf(env, sizeof(env), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino + bump);
		setenv("JOURNAL_STREAM", env, 1);
	} else
		unsetenv("JOURNAL_STREAM");
}

/* What was written since capture(); stderr back to the terminal. */
static char *
captured(void)
{
	static char	 buf[4096];
	ssize_t		 n;

	n = read(pipe_rd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(pipe_rd);
	dup2(saved_stderr, STDERR_FILENO);
	return (buf);
}

/* "2026-12-07T23:41:05+00:00": digits and separators where they go. */
static int
is_iso8601(const char *s, size_t len)
{
	static const char	 shape[] = "dddd-dd-ddTdd:dd:dd+dd:dd";
	size_t			 i;

	if (len != sizeof(shape) - 1)
		return (0);
	for (i = 0; i < len; i++) {
		if (shape[i] == 'd' && !isdigit((unsigned char)s[i]))
			return (0);
		if (shape[i] == '+' && s[i] != '+' && s[i] != '-')
			return (0);
		if (shape[i] != 'd' && shape[i] != '+' && shape[i] != s[i])
			return (0);
	}
	return (1);
}

static void
test_journal(void)
{
	char	*out;

	capture(1, 0);
	CHECK(log_stderr_is_journal());
	log_init_daemon(1, "tsamba-test");
	log_procname("smtp");
	log_setverbose(1);
	log_info("hello %d", 1);
	log_warnx("careful");
	log_debug("detail");
	out = captured();
	CHECKF(strcmp(out, "<6>smtp: hello 1\n<4>smtp: careful\n"
	    "<7>smtp: detail\n") == 0, "%s", out);

	/* A tool (log_init) under systemd gets the priorities too. */
	capture(1, 0);
	log_init(1, "tsamba-test");
	log_procname("");
	log_warnx("no such user");
	out = captured();
	CHECKF(strcmp(out, "<4>no such user\n") == 0, "%s", out);
	log_setverbose(0);
}

static void
test_stamped(void)
{
	char	*out, *sp;

	/* The variable names another stream: stamped lines. */
	capture(1, 1);
	CHECK(!log_stderr_is_journal());
	log_init_daemon(1, "tsamba-test");
	log_procname("queue");
	log_info("started");
	out = captured();
	sp = strchr(out, ' ');
	CHECKF(sp != NULL && is_iso8601(out, sp - out) &&
	    strcmp(sp, " queue: started\n") == 0, "%s", out);

	/* No variable at all: the same. */
	capture(0, 0);
	log_init_daemon(1, "tsamba-test");
	log_info("again");
	out = captured();
	sp = strchr(out, ' ');
	CHECKF(sp != NULL && is_iso8601(out, sp - out) &&
	    strcmp(sp, " queue: again\n") == 0, "%s", out);

	/* A tool's messages stay as they are. */
	capture(0, 0);
	log_init(1, "tsamba-test");
	log_procname("");
	log_warnx("usage");
	out = captured();
	CHECKF(strcmp(out, "usage\n") == 0, "%s", out);
}

/* Text nobody quoted cannot start a line of its own. */
static void
test_control_chars(void)
{
	char	*out;

	capture(1, 0);
	log_init_daemon(1, "tsamba-test");
	log_procname("smtp");
	log_warnx("AUTH for <%s>: failure", "x>\r\n<3>smtp: client=[1.2.3.4]");
	log_info("%s", "esc\x1b[2J tab\t del\x7f j\xc3\xbcrg");
	out = captured();
	CHECKF(strcmp(out, "<4>smtp: AUTH for <x>\\x0d\\x0a<3>smtp: "
	    "client=[1.2.3.4]>: failure\n"
	    "<6>smtp: esc\\x1b[2J tab\\x09 del\\x7f j\xc3\xbcrg\n") == 0,
	    "%s", out);
	log_procname("");
}

static void
test_bad_journal_stream(void)
{
	static const char	*bad[] = { "", "12", "12:", ":34", "12:34x",
	    "a:b", "12:34:56", "-1:2" };
	size_t			 i;

	capture(0, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		CHECKF(!log_stderr_is_journal(), "\"%s\"", bad[i]);
	}
	(void)captured();
	unsetenv("JOURNAL_STREAM");
}

static void
test_quote(void)
{
	char	 buf[64], small[6];

	CHECK(strcmp(log_quote(buf, sizeof(buf), "a@b.example"),
	    "a@b.example") == 0);
	CHECK(strcmp(log_quote(buf, sizeof(buf), "\"x\" \\ y"),
	    "\\\"x\\\" \\\\ y") == 0);
	CHECK(strcmp(log_quote(buf, sizeof(buf), "a\r\nclient=[1.2.3.4]"),
	    "a\\x0d\\x0aclient=[1.2.3.4]") == 0);
	CHECK(strcmp(log_quote(buf, sizeof(buf), "\x7f\x01"),
	    "\\x7f\\x01") == 0);
	/* UTF-8 stays readable. */
	CHECK(strcmp(log_quote(buf, sizeof(buf), "j\xc3\xbcrg"),
	    "j\xc3\xbcrg") == 0);
	/* Cut at the space, never inside an escape. */
	CHECK(strcmp(log_quote(small, sizeof(small), "abcdefgh"),
	    "abcde") == 0);
	CHECK(strcmp(log_quote(small, sizeof(small), "ab\n"), "ab") == 0);
	CHECK(strcmp(log_quote(small, sizeof(small), "abcd\""), "abcd") == 0);
}

static void
iso_in(const char *tz, time_t t, const char *want)
{
	char	 buf[TIME_ISO8601_SIZE];

	setenv("TZ", tz, 1);
	tzset();
	time_iso8601(t, buf, sizeof(buf));
	CHECKF(strcmp(buf, want) == 0, "TZ=%s: %s, not %s", tz, buf, want);
}

static void
test_timefmt(void)
{
	char	 tiny[8];

	iso_in("UTC0", 0, "1970-01-01T00:00:00+00:00");
	iso_in("CET-1", 1796679665, "2026-12-07T22:41:05+01:00");
	iso_in("NST+3:30", 1796679665, "2026-12-07T18:11:05-03:30");
	iso_in("UTC0", 1796679665, "2026-12-07T21:41:05+00:00");
	/* Too small for the text: the number, cut, never garbage. */
	time_iso8601(1796679665, tiny, sizeof(tiny));
	CHECK(strcmp(tiny, "1796679") == 0);
	unsetenv("TZ");
	tzset();
}

int
main(void)
{
	test_journal();
	test_stamped();
	test_control_chars();
	test_bad_journal_stream();
	test_quote();
	test_timefmt();
	return (unit_done("test_log"));
}
