/*
 * Unit tests for imapd/keywords.c: dovecot-keywords as Dovecot 2.3
 * writes it, lookups without regard to case, adding keywords (a
 * second process's keyword keeps its letter), the 26-letter limit and
 * names that are no IMAP keyword.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "keywords.h"
#include "unit.h"

static char	 top[64];

static void
test_parse(void)
{
	struct keywords	 kw;
	char		 buf[256];
	static const char	 file[] = "0 $Label1\n1 foo\n2 bar\n";
	static const char	 bad[] = "5 five\nx y\n26 big\n5 again\n3 a(b\n";

	keywords_init(&kw);
	CHECK(keywords_parse(&kw, file, sizeof(file) - 1) == 0);
	CHECK(keywords_find(&kw, "$label1") == 0);
	CHECK(keywords_find(&kw, "bar") == 2);
	CHECK(keywords_find(&kw, "baz") == -1);
	CHECK(strcmp(keywords_name(&kw, 1), "foo") == 0);
	CHECK(keywords_name(&kw, 3) == NULL && keywords_name(&kw, 99) == NULL);
	CHECK(keywords_format(&kw, buf, sizeof(buf)) ==
	    (int)sizeof(file) - 1 && strcmp(buf, file) == 0);
	/* Gaps stay gaps; junk lines, duplicates and bad names go. */
	CHECK(keywords_parse(&kw, bad, sizeof(bad) - 1) == 0);
	CHECK(keywords_find(&kw, "five") == 5 && keywords_name(&kw, 0) == NULL);
	CHECK(keywords_find(&kw, "big") == -1 &&
	    keywords_find(&kw, "again") == -1 && keywords_name(&kw, 3) == NULL);
	CHECK(!keywords_valid("\\Seen") && !keywords_valid("a b") &&
	    !keywords_valid("") && keywords_valid("$Junk"));
	keywords_clear(&kw);
}

static void
test_add(void)
{
	struct keywords	 a, b;
	char		 name[16];
	char		*s = NULL;
	size_t		 len;
	int		 md, i, fd;

	md = open(top, O_RDONLY | O_DIRECTORY);
	keywords_init(&a);
	keywords_init(&b);
	CHECK(keywords_read(&a, md) == 0 && keywords_find(&a, "x") == -1);
	CHECK(keywords_add(&a, md, "$Forwarded") == 0);
	CHECK(keywords_add(&a, md, "$forwarded") == 0);
	/* Another process adds one; ours then gets the next letter. */
	CHECK(keywords_read(&b, md) == 0 && keywords_add(&b, md, "other") ==
	    1);
	CHECK(keywords_add(&a, md, "mine") == 2);
	CHECK(keywords_find(&a, "other") == 1);
	fd = openat(md, KEYWORDS_FILE, O_RDONLY);
	CHECK(fd != -1 && fileio_read_fd(fd, 4096, &s, &len) == 0);
	CHECK(s != NULL && strcmp(s, "0 $Forwarded\n1 other\n2 mine\n") == 0);
	free(s);
	close(fd);
	CHECK(keywords_add(&a, md, "bad name") == -1 && errno == EINVAL);
	for (i = 3; i < KEYWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		CHECK(keywords_add(&a, md, name) == i);
	}
	CHECK(keywords_add(&a, md, "one-too-many") == -1 && errno == ENOSPC);
	CHECK(faccessat(md, "dovecot-keywords.lock", F_OK, 0) == -1);
	keywords_clear(&a);
	keywords_clear(&b);
	close(md);
}

int
main(void)
{
	char	 cmd[128];

	snprintf(top, sizeof(top), "/tmp/test_keywords.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	test_parse();
	test_add();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_keywords");
}
