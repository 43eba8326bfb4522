/*
 * Unit tests for imapd/subscriptions.c: the file as Dovecot 2.3 writes
 * it (a version line, an empty line, TAB between levels), the older
 * one-name-per-line form, and (un)subscribing on disk.
 */

#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "subscriptions.h"
#include "unit.h"

static char	 top[64];

static void
test_formats(void)
{
	static const char	 old[] = "Sent\r\na.b\n\nSent\ninbox";
	struct subscriptions	 s;
	char			*buf;
	size_t			 len;

	subs_init(&s);
	/* As Dovecot 2.3.19 wrote it after SUBSCRIBE a.b, Sent. */
	CHECK(subs_parse(&s, "V\t2\n\na\tb\nSent\n", 14) == 0);
	CHECK(s.n == 2 && subs_has(&s, "a.b") && subs_has(&s, "Sent"));
	CHECK(!subs_has(&s, "a") && !subs_has(&s, "sent"));
	CHECK(subs_format(&s, &buf, &len) == 0);
	CHECK(len == 14 && memcmp(buf, "V\t2\n\na\tb\nSent\n", 14) == 0);
	free(buf);
	/* The old form, CRLF and doubles tolerated. */
	CHECK(subs_parse(&s, old, sizeof(old) - 1) == 0);
	CHECK(s.n == 3 && subs_has(&s, "a.b") && subs_has(&s, "INBOX"));
	CHECK(subs_remove(&s, "Sent") == 0 && !subs_has(&s, "Sent"));
	CHECK(subs_add(&s, "x\ty") == -1);
	subs_clear(&s);
	CHECK(subs_format(&s, &buf, &len) == 0 && len == 5 &&
	    memcmp(buf, "V\t2\n\n", 5) == 0);
	free(buf);
}

static void
test_disk(void)
{
	struct subscriptions	 s;
	char			*buf = NULL;
	size_t			 len;
	int			 md, fd;

	md = open(top, O_RDONLY | O_DIRECTORY);
	subs_init(&s);
	CHECK(subs_read(&s, md) == 0 && s.n == 0);
	CHECK(subs_update(md, "Sent", 1) == 0);
	CHECK(subs_update(md, "a.b", 1) == 0);
	CHECK(subs_update(md, "Sent", 1) == 0);
	CHECK(subs_update(md, "Trash", 1) == 0);
	CHECK(subs_update(md, "Trash", 0) == 0);
	fd = openat(md, SUBSCRIPTIONS_FILE, O_RDONLY);
	CHECK(fd != -1 && fileio_read_fd(fd, 4096, &buf, &len) == 0);
	CHECK(buf != NULL && strcmp(buf, "V\t2\n\nSent\na\tb\n") == 0);
	free(buf);
	close(fd);
	CHECK(subs_read(&s, md) == 0 && s.n == 2 && subs_has(&s, "a.b"));
	subs_clear(&s);
	close(md);
}

int
main(void)
{
	char	 cmd[128];

	snprintf(top, sizeof(top), "/tmp/test_subs.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	test_formats();
	test_disk();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_subscriptions");
}
