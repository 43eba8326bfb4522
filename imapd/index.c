/*
 * tsamba.index, an append log with periodic compaction.
 *
 * Why a log: a 100,000-message folder's cache is tens of megabytes
 * (ENVELOPE and BODYSTRUCTURE strings), and a rewrite of it for every
 * STORE or EXPUNGE would cost seconds; appending one record costs one
 * small write, and SELECT reads one file front to back without
 * opening a message.  When the log holds more than twice the records
 * its state needs, it is compacted: the state is written to a
 * temporary file which is renamed over the log.
 *
 * The file is a sequence of records, each
 *
 *	u32 length, u8 type, payload (length bytes), u32 CRC-32
 *
 * (integers little-endian, the CRC over type and payload).  The first
 * record is the header (version, UIDVALIDITY, HIGHESTMODSEQ, the
 * modseq from which the expunge history is complete); then messages
 * ('M', all fields), flag changes ('F'), cache fills ('C') and
 * expunges ('X', kept for QRESYNC's VANISHED (EARLIER)).
 *
 * A message the index learns from a folder scan gets its 'M' record
 * without opening or even stat(2)ing its file: a first SELECT of a big
 * folder must not pay for what no client asked yet.  Its size,
 * INTERNALDATE, RFC822.SIZE, ENVELOPE and BODYSTRUCTURE come in 'C'
 * records when a FETCH first reads the file (index_cache_put()), each
 * saying which of them it carries (have), gathered and written once
 * per FETCH command (index_cache_flush()), without a modseq: they do
 * not change what a client sees, only how fast.  A torn last
 * record (a crash mid-write) is cut off; any other damage, a version
 * or UIDVALIDITY that does not match, or no file at all, and the
 * index starts afresh, to be filled from the folder
 * (index_sync_mailbox()): it is a cache, the Maildir is the truth.
 *
 * Modseqs must never go back, even when the index is lost: a fresh
 * index starts its HIGHESTMODSEQ at the clock in microseconds, above
 * any modseq the lost one can have counted to (one per change), and
 * every message it learns gets that modseq, so that a CONDSTORE
 * client fetches all flags again.  The expunge history of a fresh
 * index starts there too: for older modseqs it is incomplete, which
 * index_vanished_since() says.
 *
 * Processes share the file: a change takes flock(2) on it, reads what
 * others appended, takes the next modseq, appends, fdatasyncs (a modseq
 * given to a client must survive a crash) and unlocks.  After a
 * compaction by another process the file is another inode, and is
 * read again from the start.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "log.h"
#include "index.h"

#define REC_HEADER	'H'
#define REC_MSG		'M'
#define REC_FLAGS	'F'
#define REC_CACHE	'C'
#define REC_EXPUNGE	'X'

#define REC_OVERHEAD	9		/* length, type, CRC */
#define REC_MAX		(2 * INDEX_BLOB_MAX + 128)
#define INDEX_MAX_SIZE	((off_t)4 << 30)
#define EXPUNGE_KEEP	100000		/* history kept by a compaction */
#define COMPACT_SLACK	1024
#define INDEX_PENDING_MAX	(4 * 1024 * 1024)	/* cache fills held */

/* A growing byte buffer for records. */
struct buf {
	unsigned char	*b;
	size_t		 len, cap;
	int		 err;
};

static void
buf_add(struct buf *o, const void *p, size_t n)
{
	unsigned char	*nb;
	size_t		 cap;

	if (o->err || n == 0)
		return;
	if (o->len + n > o->cap) {
		cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n)
			cap *= 2;
		if ((nb = realloc(o->b, cap)) == NULL) {
			o->err = 1;
			return;
		}
		o->b = nb;
		o->cap = cap;
	}
	memcpy(o->b + o->len, p, n);
	o->len += n;
}

static void
put32(struct buf *o, uint32_t v)
{
	unsigned char	 b[4] = { v, v >> 8, v >> 16, v >> 24 };

	buf_add(o, b, 4);
}

static void
put64(struct buf *o, uint64_t v)
{
	put32(o, (uint32_t)v);
	put32(o, (uint32_t)(v >> 32));
}

static void
put_blob(struct buf *o, const char *p, size_t n)
{
	put32(o, n);
	buf_add(o, p, n);
}

/* Records are built in place: length and CRC filled at the end. */
static size_t
rec_begin(struct buf *o, int type)
{
	unsigned char	 t = type;
	size_t		 start = o->len;

	put32(o, 0);
	buf_add(o, &t, 1);
	return start;
}

static void
rec_end(struct buf *o, size_t start)
{
	uint32_t	 len, crc;

	if (o->err)
		return;
	len = o->len - start - 5;
	o->b[start] = len;
	o->b[start + 1] = len >> 8;
	o->b[start + 2] = len >> 16;
	o->b[start + 3] = len >> 24;
	crc = crc32(0L, o->b + start + 4, len + 1);
	put32(o, crc);
}

/* A cursor over one record's payload; reads past the end fail. */
struct cur {
	const unsigned char	*p, *end;
	int			 bad;
};

static uint32_t
get32(struct cur *c)
{
	uint32_t	 v;

	if (c->end - c->p < 4) {
		c->bad = 1;
		return 0;
	}
	v = c->p[0] | c->p[1] << 8 | c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	return v;
}

static uint64_t
get64(struct cur *c)
{
	uint64_t	 lo = get32(c);

	return lo | (uint64_t)get32(c) << 32;
}

static char *
get_blob(struct cur *c, size_t *len)
{
	uint32_t	 n = get32(c);
	char		*s;

	if (c->bad || n > INDEX_BLOB_MAX || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return NULL;
	}
	*len = n;
	if (n == 0)
		return NULL;
	if ((s = malloc(n)) == NULL) {
		c->bad = 1;
		return NULL;
	}
	memcpy(s, c->p, n);
	c->p += n;
	return s;
}

static void
msg_free(struct index_msg *m)
{
	free(m->envelope);
	free(m->bodystructure);
	m->envelope = m->bodystructure = NULL;
	m->envlen = m->bslen = 0;
}

static size_t
msg_pos(const struct mindex *ix, uint32_t uid, int *found)
{
	size_t	 lo = 0, hi = ix->nmsg, mid;

	*found = 0;
	/* Appends come in UID order: check the end first. */
	if (ix->nmsg == 0 || ix->msg[ix->nmsg - 1].uid < uid)
		return ix->nmsg;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ix->msg[mid].uid == uid) {
			*found = 1;
			return mid;
		}
		if (ix->msg[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct index_msg *
index_get(const struct mindex *ix, uint32_t uid)
{
	size_t	 i;
	int	 found;

	i = msg_pos(ix, uid, &found);
	return found ? &ix->msg[i] : NULL;
}

/* Take m (its blobs too) into the table, replacing a same UID. */
static int
msg_put(struct mindex *ix, struct index_msg *m)
{
	struct index_msg	*n;
	size_t			 i, cap;
	int			 found;

	i = msg_pos(ix, m->uid, &found);
	if (found) {
		msg_free(&ix->msg[i]);
		ix->msg[i] = *m;
		return 0;
	}
	if (ix->nmsg == ix->cap) {
		cap = ix->cap ? ix->cap * 2 : 256;
		if ((n = reallocarray(ix->msg, cap, sizeof(*n))) == NULL)
			return -1;
		ix->msg = n;
		ix->cap = cap;
	}
	memmove(ix->msg + i + 1, ix->msg + i,
	    (ix->nmsg - i) * sizeof(*ix->msg));
	ix->msg[i] = *m;
	ix->nmsg++;
	return 0;
}

static int
exp_push(struct mindex *ix, uint32_t uid, uint64_t modseq)
{
	struct index_expunge	*n;
	size_t			 cap;

	if (ix->nexp == ix->expcap) {
		cap = ix->expcap ? ix->expcap * 2 : 64;
		if ((n = reallocarray(ix->exp, cap, sizeof(*n))) == NULL)
			return -1;
		ix->exp = n;
		ix->expcap = cap;
	}
	ix->exp[ix->nexp].uid = uid;
	ix->exp[ix->nexp].modseq = modseq;
	ix->nexp++;
	return 0;
}

static void
note_modseq(struct mindex *ix, uint64_t modseq)
{
	if (modseq > ix->highestmodseq)
		ix->highestmodseq = modseq;
}

static void
get_file_data(struct cur *c, struct index_msg *m)
{
	m->size = get64(c);
	m->vsize = get64(c);
	m->idate = (int64_t)get64(c);
	m->have = get32(c);
	m->envelope = get_blob(c, &m->envlen);
	m->bodystructure = get_blob(c, &m->bslen);
}

/* What a cache fill m carries into e (m's blobs are taken). */
static void
cache_merge(struct index_msg *e, struct index_msg *m)
{
	if (m->have & INDEX_HAVE_FILE) {
		e->size = m->size;
		e->idate = m->idate;
	}
	if (m->have & INDEX_HAVE_VSIZE)
		e->vsize = m->vsize;
	e->have |= m->have;
	if (m->envelope != NULL) {
		free(e->envelope);
		e->envelope = m->envelope;
		e->envlen = m->envlen;
	}
	if (m->bodystructure != NULL) {
		free(e->bodystructure);
		e->bodystructure = m->bodystructure;
		e->bslen = m->bslen;
	}
	m->envelope = m->bodystructure = NULL;
}

/* Apply one record; -1 if it is not one. */
static int
apply(struct mindex *ix, int type, struct cur *c, int first)
{
	struct index_msg	 m, *e;
	size_t			 i;
	int			 found;

	if (first != (type == REC_HEADER))
		return -1;
	memset(&m, 0, sizeof(m));
	switch (type) {
	case REC_HEADER:
		if (get32(c) != INDEX_VERSION ||
		    get32(c) != ix->uidvalidity)
			return -1;
		ix->highestmodseq = get64(c);
		ix->expunge_floor = get64(c);
		break;
	case REC_MSG:
		m.uid = get32(c);
		m.modseq = get64(c);
		m.std = get32(c);
		m.keywords = get32(c);
		get_file_data(c, &m);
		if (c->bad || m.uid == 0 || msg_put(ix, &m) == -1) {
			msg_free(&m);
			return -1;
		}
		note_modseq(ix, m.modseq);
		break;
	case REC_FLAGS:
		m.uid = get32(c);
		m.modseq = get64(c);
		m.std = get32(c);
		m.keywords = get32(c);
		if ((e = index_get(ix, m.uid)) != NULL) {
			e->modseq = m.modseq;
			e->std = m.std;
			e->keywords = m.keywords;
		}
		note_modseq(ix, m.modseq);
		break;
	case REC_CACHE:
		m.uid = get32(c);
		get_file_data(c, &m);
		if (c->bad || (e = index_get(ix, m.uid)) == NULL) {
			msg_free(&m);
			break;
		}
		cache_merge(e, &m);
		break;
	case REC_EXPUNGE:
		m.uid = get32(c);
		m.modseq = get64(c);
		i = msg_pos(ix, m.uid, &found);
		if (found) {
			msg_free(&ix->msg[i]);
			memmove(ix->msg + i, ix->msg + i + 1,
			    (ix->nmsg - i - 1) * sizeof(*ix->msg));
			ix->nmsg--;
		}
		if (exp_push(ix, m.uid, m.modseq) == -1)
			return -1;
		note_modseq(ix, m.modseq);
		break;
	default:
		return -1;
	}
	return c->bad ? -1 : 0;
}

/*
 * Apply records built here (the cache fills of index_cache_flush()) to
 * the table, again: 0, or -1 if one is not a record.
 */
static int
replay_into(struct mindex *ix, const unsigned char *buf, size_t len)
{
	struct cur	 c;
	size_t		 off = 0;
	uint32_t	 rlen;

	while (len - off >= REC_OVERHEAD) {
		rlen = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 |
		    (uint32_t)buf[off + 3] << 24;
		if (len - off - REC_OVERHEAD < rlen)
			return -1;
		c.p = buf + off + 5;
		c.end = c.p + rlen;
		c.bad = 0;
		if (apply(ix, buf[off + 4], &c, 0) == -1)
			return -1;
		off += REC_OVERHEAD + rlen;
	}
	return 0;
}

/*
 * Replay buf (the file from offset ix->readoff): the offset after the
 * last whole record, or -1 for damage before the end.
 */
static off_t
replay(struct mindex *ix, const unsigned char *buf, size_t len)
{
	struct cur	 c;
	size_t		 off = 0;
	uint32_t	 rlen, crc;

	while (len - off >= REC_OVERHEAD) {
		rlen = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 |
		    (uint32_t)buf[off + 3] << 24;
		if (rlen > REC_MAX)
			return -1;
		if (len - off - REC_OVERHEAD < rlen)
			break;		/* torn at the end */
		c.p = buf + off + 4 + rlen + 1;
		c.end = c.p + 4;
		c.bad = 0;
		crc = get32(&c);
		if (crc != crc32(0L, buf + off + 4, rlen + 1)) {
			if (off + REC_OVERHEAD + rlen == len)
				break;	/* torn: the last write */
			return -1;
		}
		c.p = buf + off + 5;
		c.end = c.p + rlen;
		c.bad = 0;
		if (apply(ix, buf[off + 4], &c, ix->readoff == 0 && off == 0)
		    == -1)
			return -1;
		off += REC_OVERHEAD + rlen;
		ix->live++;
	}
	return ix->readoff + (off_t)off;
}

/* Read what the file holds past readoff; -1 for damage. */
static int
read_new(struct mindex *ix)
{
	struct stat	 st;
	unsigned char	*buf;
	size_t		 len, got = 0;
	ssize_t		 n;
	off_t		 end;

	if (fstat(ix->fd, &st) == -1)
		return -1;
	if (st.st_size > INDEX_MAX_SIZE) {
		errno = EFBIG;
		return -1;
	}
	if (st.st_size <= ix->readoff)
		return 0;
	len = st.st_size - ix->readoff;
	if ((buf = malloc(len)) == NULL)
		return -1;
	while (got < len) {
		n = pread(ix->fd, buf + got, len - got, ix->readoff + got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	end = replay(ix, buf, got);
	free(buf);
	if (end == -1)
		return -1;
	if (end < st.st_size) {
		/* A torn record: cut it so that appends follow whole ones. */
		log_warnx("%s: torn record cut at %lld", INDEX_FILE,
		    (long long)end);
		if (ftruncate(ix->fd, end) == -1)
			return -1;
	}
	ix->readoff = end;
	return 0;
}

static void
reset(struct mindex *ix)
{
	size_t	 i;

	for (i = 0; i < ix->nmsg; i++)
		msg_free(&ix->msg[i]);
	ix->nmsg = 0;
	ix->nexp = 0;
	ix->readoff = 0;
	ix->live = 0;
	ix->highestmodseq = 0;
	ix->expunge_floor = 0;
}

static uint64_t
clock_modseq(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
write_header(struct buf *o, const struct mindex *ix)
{
	size_t	 r = rec_begin(o, REC_HEADER);

	put32(o, INDEX_VERSION);
	put32(o, ix->uidvalidity);
	put64(o, ix->highestmodseq);
	put64(o, ix->expunge_floor);
	rec_end(o, r);
}

/* What the file told, the end of both 'M' and 'C' records. */
static void
put_file_data(struct buf *o, const struct index_msg *m)
{
	put64(o, m->size);
	put64(o, m->vsize);
	put64(o, (uint64_t)m->idate);
	put32(o, m->have);
	put_blob(o, m->envelope, m->envlen);
	put_blob(o, m->bodystructure, m->bslen);
}

static void
write_msg(struct buf *o, const struct index_msg *m)
{
	size_t	 r = rec_begin(o, REC_MSG);

	put32(o, m->uid);
	put64(o, m->modseq);
	put32(o, m->std);
	put32(o, m->keywords);
	put_file_data(o, m);
	rec_end(o, r);
}

static void
write_cache(struct buf *o, const struct index_msg *m)
{
	size_t	 r = rec_begin(o, REC_CACHE);

	put32(o, m->uid);
	put_file_data(o, m);
	rec_end(o, r);
}

static int
open_log(struct mindex *ix)
{
	struct stat	 st;

	if (ix->fd != -1)
		close(ix->fd);
	ix->fd = openat(ix->md, INDEX_FILE, O_RDWR | O_CREAT | O_APPEND |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ix->fd == -1 || fstat(ix->fd, &st) == -1)
		return -1;
	ix->dev = st.st_dev;
	ix->ino = st.st_ino;
	return 0;
}

/* Write the whole state to a new file and rename it over the log. */
static int
write_state(struct mindex *ix)
{
	struct buf	 o = { NULL, 0, 0, 0 };
	char		 tmp[64];
	size_t		 i, first = 0;
	int		 fd, rv = -1, saved;

	if (ix->nexp > EXPUNGE_KEEP) {
		/* Older history goes: the floor says it is incomplete. */
		first = ix->nexp - EXPUNGE_KEEP;
		ix->expunge_floor = ix->exp[first - 1].modseq;
	}
	write_header(&o, ix);
	for (i = 0; i < ix->nmsg; i++)
		write_msg(&o, &ix->msg[i]);
	for (i = first; i < ix->nexp; i++) {
		size_t	 r = rec_begin(&o, REC_EXPUNGE);

		put32(&o, ix->exp[i].uid);
		put64(&o, ix->exp[i].modseq);
		rec_end(&o, r);
	}
	if (o.err) {
		errno = ENOMEM;
		goto done;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", INDEX_FILE, (long)getpid());
	if ((fd = openat(ix->md, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		goto done;
	if (write_all(fd, o.b, o.len) == -1 || fsync(fd) == -1 ||
	    renameat(ix->md, tmp, ix->md, INDEX_FILE) == -1) {
		saved = errno;
		close(fd);
		unlinkat(ix->md, tmp, 0);
		errno = saved;
		goto done;
	}
	close(fd);
	if (first > 0) {
		memmove(ix->exp, ix->exp + first,
		    (ix->nexp - first) * sizeof(*ix->exp));
		ix->nexp -= first;
	}
	if (open_log(ix) == -1)
		goto done;
	ix->readoff = o.len;
	ix->live = ix->nmsg + ix->nexp;
	rv = 0;
 done:
	free(o.b);
	return rv;
}

/* Start afresh: empty, modseqs from the clock on. */
static int
start_fresh(struct mindex *ix)
{
	reset(ix);
	ix->highestmodseq = ix->expunge_floor = clock_modseq();
	ix->rebuilt = 1;
	return write_state(ix);
}

/* Lock the log; reopened first if another process compacted it. */
static int
lock_log(struct mindex *ix)
{
	struct stat	 st;
	int		 tries;

	for (tries = 0; tries < 8; tries++) {
		if (flock(ix->fd, LOCK_EX) == -1)
			return -1;
		if (fstatat(ix->md, INDEX_FILE, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && st.st_dev == ix->dev && st.st_ino == ix->ino)
			return 0;
		/* Replaced: read the new one from its start. */
		flock(ix->fd, LOCK_UN);
		if (open_log(ix) == -1)
			return -1;
		reset(ix);
	}
	errno = EAGAIN;
	return -1;
}

static void
unlock_log(struct mindex *ix)
{
	flock(ix->fd, LOCK_UN);
}

/* Under the lock: what others appended; damage starts afresh. */
static int
refresh_locked(struct mindex *ix)
{
	if (read_new(ix) == 0)
		return 0;
	log_warnx("%s: damaged, rebuilt", INDEX_FILE);
	return start_fresh(ix);
}

int
index_refresh(struct mindex *ix)
{
	int	 r;

	if (lock_log(ix) == -1)
		return -1;
	r = refresh_locked(ix);
	unlock_log(ix);
	return r;
}

/*
 * Open md's index for a folder of this UIDVALIDITY: 0, or -1.  An
 * index that was missing, damaged or of another UIDVALIDITY starts
 * empty (ix->rebuilt): fill it with index_sync_mailbox().
 */
int
index_open(int md, uint32_t uidvalidity, struct mindex **ixp)
{
	struct mindex	*ix;
	struct stat	 st;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return -1;
	ix->md = md;
	ix->fd = -1;
	ix->uidvalidity = uidvalidity;
	if (open_log(ix) == -1 || lock_log(ix) == -1) {
		index_close(ix);
		return -1;
	}
	if (fstat(ix->fd, &st) == -1 || (st.st_size == 0 ?
	    start_fresh(ix) : refresh_locked(ix)) == -1) {
		unlock_log(ix);
		index_close(ix);
		return -1;
	}
	unlock_log(ix);
	*ixp = ix;
	return 0;
}

void
index_close(struct mindex *ix)
{
	struct buf	*pend;

	if (ix == NULL)
		return;
	/* Fills are only a cache: one that cannot be written is lost. */
	if (ix->fd != -1 && index_cache_flush(ix) == -1)
		log_warn("%s: cache fills", INDEX_FILE);
	if ((pend = ix->pending) != NULL)
		free(pend->b);
	free(ix->pending);
	reset(ix);
	free(ix->msg);
	free(ix->exp);
	if (ix->fd != -1)
		close(ix->fd);
	free(ix);
}

/*
 * Append the records built under the lock, compacting when worth it.
 * Cache fills are not synced (nosync): lost in a crash, they are read
 * from the files again, and a record torn by it is cut when read.
 */
static int
commit_write(struct mindex *ix, struct buf *o, size_t nrec, int nosync)
{
	int	 r = 0;

	if (o->err) {
		errno = ENOMEM;
		r = -1;
	} else if (o->len > 0 && (write_all(ix->fd, o->b, o->len) == -1 ||
	    (!nosync && fdatasync(ix->fd) == -1)))
		r = -1;
	else {
		ix->readoff += o->len;
		ix->live += nrec;
	}
	if (r == 0 && (size_t)ix->live > 2 * (ix->nmsg + ix->nexp) +
	    COMPACT_SLACK)
		r = write_state(ix);
	unlock_log(ix);
	free(o->b);
	return r;
}

static int
commit_locked(struct mindex *ix, struct buf *o, size_t nrec)
{
	return commit_write(ix, o, nrec, 0);
}

static int
add_locked(struct mindex *ix, struct buf *o, const struct index_msg *in)
{
	struct index_msg	 m = *in;

	m.modseq = ++ix->highestmodseq;
	m.envelope = m.bodystructure = NULL;
	if ((in->envlen > 0 && (m.envelope = malloc(in->envlen)) == NULL) ||
	    (in->bslen > 0 && (m.bodystructure = malloc(in->bslen)) ==
	    NULL)) {
		msg_free(&m);
		return -1;
	}
	if (in->envlen > 0)
		memcpy(m.envelope, in->envelope, in->envlen);
	if (in->bslen > 0)
		memcpy(m.bodystructure, in->bodystructure, in->bslen);
	write_msg(o, &m);
	if (msg_put(ix, &m) == -1) {
		msg_free(&m);
		return -1;
	}
	return 0;
}

static void
flags_locked(struct mindex *ix, struct buf *o, struct index_msg *e,
    uint32_t std, uint32_t keywords)
{
	size_t	 r;

	e->modseq = ++ix->highestmodseq;
	e->std = std;
	e->keywords = keywords;
	r = rec_begin(o, REC_FLAGS);
	put32(o, e->uid);
	put64(o, e->modseq);
	put32(o, std);
	put32(o, keywords);
	rec_end(o, r);
}

static int
expunge_locked(struct mindex *ix, struct buf *o, uint32_t uid)
{
	size_t	 i, r;
	int	 found;

	i = msg_pos(ix, uid, &found);
	if (!found)
		return 0;
	msg_free(&ix->msg[i]);
	memmove(ix->msg + i, ix->msg + i + 1,
	    (ix->nmsg - i - 1) * sizeof(*ix->msg));
	ix->nmsg--;
	if (exp_push(ix, uid, ++ix->highestmodseq) == -1)
		return -1;
	r = rec_begin(o, REC_EXPUNGE);
	put32(o, uid);
	put64(o, ix->highestmodseq);
	rec_end(o, r);
	return 1;
}

/* A new message (its modseq is given here; blobs are copied). */
int
index_add(struct mindex *ix, const struct index_msg *in)
{
	struct buf	 o = { NULL, 0, 0, 0 };

	if (lock_log(ix) == -1)
		return -1;
	if (refresh_locked(ix) == -1 || add_locked(ix, &o, in) == -1) {
		unlock_log(ix);
		free(o.b);
		return -1;
	}
	return commit_locked(ix, &o, 1);
}

/* New flags: a new modseq if they differ.  -1 (ENOENT) if unknown. */
int
index_set_flags(struct mindex *ix, uint32_t uid, uint32_t std,
    uint32_t keywords)
{
	struct buf		 o = { NULL, 0, 0, 0 };
	struct index_msg	*e;

	if (lock_log(ix) == -1)
		return -1;
	if (refresh_locked(ix) == -1) {
		unlock_log(ix);
		return -1;
	}
	if ((e = index_get(ix, uid)) == NULL) {
		unlock_log(ix);
		errno = ENOENT;
		return -1;
	}
	if (e->std != std || e->keywords != keywords)
		flags_locked(ix, &o, e, std, keywords);
	return commit_locked(ix, &o, o.len > 0);
}

/* The cached ENVELOPE and BODYSTRUCTURE of a message (no modseq). */
int
index_set_cache(struct mindex *ix, uint32_t uid, const char *env,
    size_t envlen, const char *bs, size_t bslen)
{
	struct index_msg	 m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.envelope = (char *)env;
	m.envlen = envlen;
	m.bodystructure = (char *)bs;
	m.bslen = bslen;
	if (index_get(ix, uid) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (index_cache_put(ix, &m) == -1)
		return -1;
	return index_cache_flush(ix);
}

/* A blob copy for the table: 0, or -1 (ENOMEM). */
static int
blob_dup(char **to, size_t *tolen, const char *p, size_t n)
{
	*to = NULL;
	*tolen = 0;
	if (p == NULL || n == 0)
		return 0;
	if ((*to = malloc(n)) == NULL)
		return -1;
	memcpy(*to, p, n);
	*tolen = n;
	return 0;
}

/*
 * What a FETCH learnt from a message's file (in->have, and the blobs
 * that are not NULL), into the table now and into the log at the next
 * index_cache_flush().  A message the index does not have is ignored:
 * it will be added with its next sync.  Blobs are copied.
 */
int
index_cache_put(struct mindex *ix, const struct index_msg *in)
{
	struct buf		*pend;
	struct index_msg	 m, *e;

	if (in->envlen > INDEX_BLOB_MAX || in->bslen > INDEX_BLOB_MAX) {
		errno = EFBIG;
		return -1;
	}
	if ((e = index_get(ix, in->uid)) == NULL)
		return 0;
	if (ix->pending == NULL &&
	    (ix->pending = calloc(1, sizeof(struct buf))) == NULL)
		return -1;
	pend = ix->pending;
	memset(&m, 0, sizeof(m));
	m.uid = in->uid;
	m.have = in->have;
	m.size = in->size;
	m.vsize = in->vsize;
	m.idate = in->idate;
	if (blob_dup(&m.envelope, &m.envlen, in->envelope, in->envlen) ==
	    -1 || blob_dup(&m.bodystructure, &m.bslen, in->bodystructure,
	    in->bslen) == -1) {
		msg_free(&m);
		return -1;
	}
	write_cache(pend, &m);
	ix->npending++;
	cache_merge(e, &m);
	msg_free(&m);
	if (pend->err) {
		errno = ENOMEM;
		return -1;
	}
	/* A FETCH of a whole big folder: written in bounded pieces. */
	if (pend->len > INDEX_PENDING_MAX)
		return index_cache_flush(ix);
	return 0;
}

/*
 * Write the cache fills gathered since the last flush.  Another
 * process may have compacted or rebuilt the log meanwhile (the table
 * is then read again from the new file): the fills are applied to the
 * table again after that refresh, and fills of messages it no longer
 * has are ignored when the log is read.
 */
int
index_cache_flush(struct mindex *ix)
{
	struct buf	*pend = ix->pending;
	struct buf	 o;
	size_t		 n = ix->npending;
	dev_t		 dev = ix->dev;
	ino_t		 ino = ix->ino;

	if (pend == NULL || pend->len == 0)
		return 0;
	o = *pend;
	memset(pend, 0, sizeof(*pend));
	ix->npending = 0;
	if (o.err) {
		free(o.b);
		errno = ENOMEM;
		return -1;
	}
	if (lock_log(ix) == -1) {
		free(o.b);
		return -1;
	}
	if (refresh_locked(ix) == -1) {
		unlock_log(ix);
		free(o.b);
		return -1;
	}
	/* The table was read again from another file: fill it again. */
	if (ix->dev != dev || ix->ino != ino)
		(void)replay_into(ix, o.b, o.len);
	return commit_write(ix, &o, n, 1);
}

int
index_expunge(struct mindex *ix, uint32_t uid)
{
	struct buf	 o = { NULL, 0, 0, 0 };
	int		 r;

	if (lock_log(ix) == -1)
		return -1;
	if (refresh_locked(ix) == -1 ||
	    (r = expunge_locked(ix, &o, uid)) == -1) {
		unlock_log(ix);
		free(o.b);
		return -1;
	}
	return commit_locked(ix, &o, r);
}

/*
 * UIDs expunged after modseq (QRESYNC VANISHED (EARLIER)) in a new
 * array; complete is 0 when the history does not reach back that far
 * (the caller then reports every UID of the client's set it lacks).
 */
int
index_vanished_since(const struct mindex *ix, uint64_t modseq,
    uint32_t **uids, size_t *n, int *complete)
{
	size_t	 i;

	*n = 0;
	*complete = modseq >= ix->expunge_floor;
	if ((*uids = reallocarray(NULL, ix->nexp + 1, sizeof(**uids))) ==
	    NULL)
		return -1;
	for (i = 0; i < ix->nexp; i++)
		if (ix->exp[i].modseq > modseq)
			(*uids)[(*n)++] = ix->exp[i].uid;
	return 0;
}

int
index_compact(struct mindex *ix)
{
	int	 r;

	if (lock_log(ix) == -1)
		return -1;
	if ((r = refresh_locked(ix)) == 0)
		r = write_state(ix);
	unlock_log(ix);
	return r;
}

/*
 * A message the index has not seen, from its name alone: its file is
 * not stat(2)ed (the first FETCH that needs its size or date does).
 */
static void
msg_from_name(const struct mbox_msg *m, struct index_msg *im)
{
	size_t	 v;

	memset(im, 0, sizeof(*im));
	im->uid = m->uid;
	im->std = m->flags.std;
	im->keywords = m->flags.keywords;
	/* W= is the CRLF size; without it a FETCH computes it. */
	if (maildir_name_size(m->name + 4, 'W', &v) == 0) {
		im->vsize = v;
		im->have |= INDEX_HAVE_VSIZE;
	}
	if (maildir_name_size(m->name + 4, 'S', &v) == 0)
		im->size = v;
}

/*
 * Bring the index in step with a synced mailbox view: messages it
 * lacks are added (size and date from the file, no cached strings),
 * flags that differ get a new modseq, messages gone are expunged.
 * This is also how a fresh index is filled.
 */
int
index_sync_mailbox(struct mindex *ix, const struct mailbox *mb)
{
	struct buf		 o = { NULL, 0, 0, 0 };
	struct index_msg	*e, im;
	uint32_t		*gone = NULL;
	size_t			 i, ngone = 0, nrec = 0;

	if (lock_log(ix) == -1)
		return -1;
	if (refresh_locked(ix) == -1)
		goto fail;
	for (i = 0; i < ix->nmsg; i++)
		if (mailbox_find(mb, ix->msg[i].uid) == NULL) {
			uint32_t	*g;

			if ((g = reallocarray(gone, ngone + 1,
			    sizeof(*g))) == NULL)
				goto fail;
			gone = g;
			gone[ngone++] = ix->msg[i].uid;
		}
	for (i = 0; i < ngone; i++)
		if (expunge_locked(ix, &o, gone[i]) == -1)
			goto fail;
	nrec += ngone;
	for (i = 0; i < mb->nmsg; i++) {
		const struct mbox_msg	*m = &mb->msg[i];

		if ((e = index_get(ix, m->uid)) != NULL) {
			if (e->std != m->flags.std ||
			    e->keywords != m->flags.keywords) {
				flags_locked(ix, &o, e, m->flags.std,
				    m->flags.keywords);
				nrec++;
			}
			continue;
		}
		msg_from_name(m, &im);
		if (add_locked(ix, &o, &im) == -1)
			goto fail;
		nrec++;
	}
	free(gone);
	return commit_locked(ix, &o, nrec);
 fail:
	free(gone);
	free(o.b);
	unlock_log(ix);
	return -1;
}
