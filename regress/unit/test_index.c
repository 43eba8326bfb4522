/*
 * Unit tests for imapd/index.c: a round trip through the file, two
 * processes' handles seeing each other's changes, HIGHESTMODSEQ and
 * the expunge history surviving a reopen and a compaction, a torn
 * last record cut, and a damaged, foreign or deleted index rebuilt
 * from the Maildir with modseqs that never go back.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "index.h"
#include "mailbox.h"
#include "unit.h"

static char	 top[64];

static struct index_msg
mkmsg(uint32_t uid, const char *env)
{
	struct index_msg	 m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.std = MAILDIR_FLAG_SEEN;
	m.size = 100 + uid;
	m.vsize = 110 + uid;
	m.idate = 1700000000 + uid;
	m.envelope = (char *)env;
	m.envlen = strlen(env);
	m.bodystructure = (char *)"(\"text\" \"plain\")";
	m.bslen = strlen(m.bodystructure);
	return m;
}

static off_t
file_size(int md)
{
	struct stat	 st;

	return fstatat(md, INDEX_FILE, &st, 0) == 0 ? st.st_size : -1;
}

static void
test_roundtrip(int md)
{
	struct mindex		*a, *b;
	struct index_msg	 m, *e;
	uint64_t		 h0, h;
	uint32_t		*v;
	size_t			 n, i;
	int			 complete;

	CHECK(index_open(md, 5, &a) == 0 && a->rebuilt && a->nmsg == 0);
	h0 = a->highestmodseq;
	CHECK(h0 > 1000000000000000ULL);	/* the clock, in us */
	for (i = 1; i <= 3; i++) {
		m = mkmsg(i, "(\"env\")");
		CHECK(index_add(a, &m) == 0);
	}
	CHECK(a->highestmodseq == h0 + 3);
	CHECK(index_set_flags(a, 1, MAILDIR_FLAG_FLAGGED, 3) == 0);
	CHECK(index_set_flags(a, 1, MAILDIR_FLAG_FLAGGED, 3) == 0);
	CHECK(a->highestmodseq == h0 + 4);
	CHECK(index_set_flags(a, 9, 0, 0) == -1 && errno == ENOENT);
	CHECK(index_set_cache(a, 3, "(\"new env\")", 11, "B", 1) == 0);
	CHECK(index_expunge(a, 2) == 0 && a->highestmodseq == h0 + 5);
	h = a->highestmodseq;

	/* Another process's handle reads the same state. */
	CHECK(index_open(md, 5, &b) == 0 && !b->rebuilt);
	CHECK(b->nmsg == 2 && b->highestmodseq == h);
	e = index_get(b, 1);
	CHECK(e != NULL && e->std == MAILDIR_FLAG_FLAGGED &&
	    e->keywords == 3 && e->modseq == h0 + 4 && e->size == 101 &&
	    e->vsize == 111 && e->idate == 1700000001);
	CHECK(e != NULL && e->envlen == 7 && memcmp(e->envelope, "(\"env\")",
	    7) == 0);
	e = index_get(b, 3);
	CHECK(e != NULL && e->envlen == 11 && e->bslen == 1 &&
	    memcmp(e->envelope, "(\"new env\")", 11) == 0);
	CHECK(index_get(b, 2) == NULL);
	CHECK(index_vanished_since(b, h0 + 4, &v, &n, &complete) == 0);
	CHECK(n == 1 && v[0] == 2 && complete);
	free(v);
	CHECK(index_vanished_since(b, 1, &v, &n, &complete) == 0 &&
	    !complete);
	free(v);

	/* b changes; a sees it, modseqs shared without a collision. */
	CHECK(index_set_flags(b, 3, 0, 0) == 0 && b->highestmodseq == h + 1);
	CHECK(index_set_flags(a, 1, 0, 0) == 0 && a->highestmodseq == h + 2);
	CHECK(index_get(a, 3)->std == 0 && index_get(a, 3)->modseq == h + 1);
	CHECK(index_refresh(b) == 0 && index_get(b, 1)->modseq == h + 2);
	index_close(a);
	index_close(b);

	/* Reopened: HIGHESTMODSEQ survives. */
	CHECK(index_open(md, 5, &a) == 0 && !a->rebuilt &&
	    a->highestmodseq == h + 2);

	/* Compaction: the log stays small, the state the same. */
	/* 2999 changes: the first sets what message 1 already has. */
	for (i = 0; i < 3000; i++)
		CHECK(index_set_flags(a, 1, i & 1 ? MAILDIR_FLAG_SEEN : 0, 0) ==
		    0);
	CHECK(file_size(md) < 64 * 1024);
	CHECK(a->highestmodseq == h + 3001);
	index_close(a);
	CHECK(index_open(md, 5, &a) == 0 && !a->rebuilt && a->nmsg == 2 &&
	    a->highestmodseq == h + 3001);
	CHECK(index_get(a, 3) != NULL && index_get(a, 3)->envlen == 11);
	CHECK(index_vanished_since(a, h0, &v, &n, &complete) == 0 && n == 1 &&
	    complete);
	free(v);
	index_close(a);
}

static void
test_damage(int md)
{
	struct mindex		*a;
	struct index_msg	 m;
	unsigned char		 c;
	uint64_t		 h;
	off_t			 size;
	int			 fd;

	CHECK(index_open(md, 5, &a) == 0 && !a->rebuilt);
	h = a->highestmodseq;
	index_close(a);

	/* A torn last record (a crash mid-append) is cut off. */
	size = file_size(md);
	fd = openat(md, INDEX_FILE, O_WRONLY | O_APPEND);
	CHECK(write(fd, "\x30\0\0\0M\1\2", 7) == 7);
	close(fd);
	CHECK(index_open(md, 5, &a) == 0 && !a->rebuilt && a->nmsg == 2);
	CHECK(file_size(md) == size);
	m = mkmsg(10, "e");
	CHECK(index_add(a, &m) == 0);
	index_close(a);
	CHECK(index_open(md, 5, &a) == 0 && !a->rebuilt && a->nmsg == 3);
	h = a->highestmodseq;
	index_close(a);

	/* A byte changed inside: started afresh, modseqs still grow. */
	fd = openat(md, INDEX_FILE, O_RDWR);
	CHECK(pread(fd, &c, 1, 40) == 1);
	c ^= 0x55;
	CHECK(pwrite(fd, &c, 1, 40) == 1);
	close(fd);
	CHECK(index_open(md, 5, &a) == 0 && a->rebuilt && a->nmsg == 0);
	CHECK(a->highestmodseq > h);
	index_close(a);

	/* Another UIDVALIDITY: the old index is no use. */
	CHECK(index_open(md, 6, &a) == 0 && a->rebuilt);
	index_close(a);
}

static void
deliver(int md, const char *name, const char *body)
{
	int	 fd;

	fd = openat(md, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	(void)write_all(fd, body, strlen(body));
	close(fd);
}

static void
test_rebuild(int md)
{
	struct mailbox		*mb;
	struct mindex		*ix;
	struct index_msg	*e;
	struct maildir_flags	 f = { MAILDIR_FLAG_FLAGGED, 0 };
	struct timespec		 ts[2] = { { 1500000000, 0 },
				    { 1500000000, 0 } };
	uint64_t		 h, h2;
	uint32_t		*v;
	size_t			 n;
	int			 complete;

	deliver(md, "new/1.M1P1.h,S=6,W=8", "a\nbcd\n");
	deliver(md, "cur/2.M1P1.h,S=3,W=4:2,S", "xy\n");
	utimensat(md, "cur/2.M1P1.h,S=3,W=4:2,S", ts, 0);
	CHECK(mailbox_open(md, "INBOX", 0, &mb) == 0);
	CHECK(mailbox_sync(mb, NULL) == 0 && mb->nmsg == 2);
	unlinkat(md, INDEX_FILE, 0);
	CHECK(index_open(md, mb->ul.uidvalidity, &ix) == 0 && ix->rebuilt);
	CHECK(index_sync_mailbox(ix, mb) == 0 && ix->nmsg == 2);
	/* From the names alone: no file is stat(2)ed for a sync. */
	e = index_get(ix, 2);
	CHECK(e != NULL && e->std == MAILDIR_FLAG_SEEN && e->size == 3 &&
	    e->vsize == 4 && e->have == INDEX_HAVE_VSIZE);
	CHECK(index_get(ix, 1) != NULL && index_get(ix, 1)->vsize == 8);
	h = ix->highestmodseq;

	/* A STORE and an EXPUNGE by any session reach it on sync. */
	CHECK(mailbox_store(mb, 1, MB_STORE_ADD, &f) == 0);
	CHECK(mailbox_expunge(mb, (uint32_t[]){ 2 }, 1) == 0);
	CHECK(index_sync_mailbox(ix, mb) == 0 && ix->nmsg == 1);
	CHECK(index_get(ix, 1)->std == MAILDIR_FLAG_FLAGGED &&
	    index_get(ix, 1)->modseq > h);
	CHECK(index_vanished_since(ix, h, &v, &n, &complete) == 0 &&
	    n == 1 && v[0] == 2 && complete);
	free(v);
	h2 = ix->highestmodseq;
	index_close(ix);

	/* Deleted: rebuilt from the files, modseqs above the old ones. */
	unlinkat(md, INDEX_FILE, 0);
	CHECK(index_open(md, mb->ul.uidvalidity, &ix) == 0 && ix->rebuilt);
	CHECK(index_sync_mailbox(ix, mb) == 0 && ix->nmsg == 1);
	CHECK(index_get(ix, 1)->modseq > h2 &&
	    index_get(ix, 1)->std == MAILDIR_FLAG_FLAGGED);
	index_close(ix);
	mailbox_close(mb);
}

/* FETCH's fills: in the table at once, in the log after a flush. */
static void
test_cache(int md)
{
	struct mindex		*a, *b;
	struct index_msg	 m, *e;
	uint64_t		 h;

	unlinkat(md, INDEX_FILE, 0);
	CHECK(index_open(md, 7, &a) == 0 && a->rebuilt);
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	CHECK(index_add(a, &m) == 0 && index_get(a, 1)->have == 0);
	h = a->highestmodseq;
	CHECK(index_open(md, 7, &b) == 0);

	m.have = INDEX_HAVE_FILE;
	m.size = 42;
	m.idate = 1600000000;
	m.envelope = (char *)"(NIL)";
	m.envlen = 5;
	CHECK(index_cache_put(a, &m) == 0);
	e = index_get(a, 1);
	CHECK(e->have == INDEX_HAVE_FILE && e->size == 42 && e->envlen == 5);
	/* Unknown UIDs are no error, nor a record. */
	m.uid = 9;
	CHECK(index_cache_put(a, &m) == 0 && a->npending == 1);
	CHECK(index_refresh(b) == 0 && index_get(b, 1)->have == 0);
	CHECK(index_cache_flush(a) == 0 && a->npending == 0);
	CHECK(a->highestmodseq == h);		/* no modseq for a fill */

	/* A second fill adds what it carries, keeps the rest. */
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.have = INDEX_HAVE_VSIZE;
	m.vsize = 44;
	m.bodystructure = (char *)"(B)";
	m.bslen = 3;
	CHECK(index_cache_put(a, &m) == 0 && index_cache_flush(a) == 0);
	CHECK(index_refresh(b) == 0);
	e = index_get(b, 1);
	CHECK(e->have == (INDEX_HAVE_FILE | INDEX_HAVE_VSIZE) &&
	    e->size == 42 && e->idate == 1600000000 && e->vsize == 44 &&
	    e->envlen == 5 && memcmp(e->envelope, "(NIL)", 5) == 0 &&
	    e->bslen == 3 && memcmp(e->bodystructure, "(B)", 3) == 0);
	index_close(b);

	/* A compaction keeps them; an unflushed fill is written at close. */
	CHECK(index_compact(a) == 0);
	m.have = 0;
	m.bodystructure = (char *)"(C)";
	CHECK(index_cache_put(a, &m) == 0);
	index_close(a);
	CHECK(index_open(md, 7, &b) == 0 && !b->rebuilt);
	e = index_get(b, 1);
	CHECK(e != NULL && e->vsize == 44 && e->envlen == 5 &&
	    e->bslen == 3 && memcmp(e->bodystructure, "(C)", 3) == 0);
	index_close(b);
	unlinkat(md, INDEX_FILE, 0);
}

int
main(void)
{
	char	 cmd[128];
	int	 md;

	snprintf(top, sizeof(top), "/tmp/test_index.XXXXXX");
	if (mkdtemp(top) == NULL ||
	    (md = open(top, O_RDONLY | O_DIRECTORY)) == -1 ||
	    maildir_create(md, ".", 0) == -1)
		return 1;
	test_roundtrip(md);
	test_damage(md);
	test_rebuild(md);
	test_cache(md);
	close(md);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_index");
}
