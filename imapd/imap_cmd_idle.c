/*
 * IMAP IDLE (RFC 2177): what lmtpd and other sessions change in the
 * selected mailbox is pushed to the client as it happens, until DONE.
 * inotify (mailbox_watch.c) wakes us; a slow poll stays as a safety net
 * for what inotify cannot see (another host on a shared filesystem).
 */

#include <sys/types.h>

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "imapd.h"
#include "imap_parse.h"
#include "mailbox.h"
#include "mailbox_watch.h"

#define IDLE_POLL_MSEC		1000	/* without inotify */
#define IDLE_WATCHED_MSEC	15000	/* with it: a safety net */

static long
idle_now_msec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for the client or the mailbox until DONE.  The autologout timer
 * runs on: a client re-issues IDLE well before it ends (29 minutes is
 * usual for 30).  0 on DONE, -1 when the session ends.
 */
static int
idle_wait(struct mail_session *s, int watch)
{
	char	*line;
	size_t	 len;
	long	 start = idle_now_msec();
	int	 r, msec = watch == -1 ? IDLE_POLL_MSEC : IDLE_WATCHED_MSEC;

	for (;;) {
		mio_flush(&s->io);
		if ((r = mio_wait_also(&s->io, watch, msec)) == -1) {
			s->io.eof = mail_stopping ? 3 : 1;
			return -1;
		}
		if (s->io.timeout > 0 &&
		    idle_now_msec() - start >= s->io.timeout) {
			s->io.eof = 2;
			return -1;
		}
		if (r == 0 || r == 2) {
			if (watch != -1)
				mailbox_watch_drain(watch);
			if (s->mb != NULL)
				imap_sync_report(s, 1);
			continue;
		}
		if ((r = mio_getline(&s->io, &line, &len)) == 0)
			return -1;
		if (r == 1 && imap_is_done(line, len))
			return 0;
		fputs("* BAD Expected DONE\r\n", s->io.out);
	}
}

void
imap_cmd_idle(struct mail_session *s, struct imap_cmd *cmd)
{
	int	 watch = -1, r;

	/* Watch before the "+": nothing delivered after it is missed. */
	if (s->mb != NULL)
		watch = mailbox_watch_open(s->mb, s->root);
	fputs("+ idling\r\n", s->io.out);
	if (s->mb != NULL)
		imap_sync_report(s, 1);
	r = idle_wait(s, watch);
	if (watch != -1)
		close(watch);
	if (r == -1) {
		s->logout = 1;
		return;
	}
	if (s->mb != NULL)
		imap_sync_report(s, 1);
	imap_tagged(s, cmd, "OK", "IDLE completed");
}
