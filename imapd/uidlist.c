/*
 * dovecot-uidlist, version 3, as Dovecot 2.3 writes it:
 *
 *	3 V<uidvalidity> N<nextuid> G<mailbox guid, 32 hex> [other fields]
 *	<uid> [<key><value> ...] :<file name>
 *
 * one record per message in UID order, the file name being the unique
 * part of the Maildir name (up to ':').  Version 1 ("1 <uidvalidity>
 * <nextuid>", records "<uid> <name>") is read too.  Dovecot appends
 * new records without touching the header, so the next UID is the
 * larger of N and the last UID + 1.  The file is changed only under
 * the dot-lock dovecot-uidlist.lock: new records are appended when the
 * file is still the one read, anything else rewrites it through the
 * lock file renamed over it.  A valid uidlist is never renumbered.
 *
 * UIDVALIDITY for a new folder comes from dovecot-uidvalidity in the
 * mail root, as Dovecot makes it: the larger of the clock and the last
 * value given + 1, recorded as hex in the file and as the marker file
 * dovecot-uidvalidity.<hex>, so that folders created in one second
 * still get different values.
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
#include "log.h"
#include "maildir.h"
#include "uidlist.h"

#define UIDVALIDITY_FILE	"dovecot-uidvalidity"

void
uidlist_init(struct uidlist *ul)
{
	memset(ul, 0, sizeof(*ul));
	ul->nextuid = 1;
	ul->version = 3;
}

void
uidlist_clear(struct uidlist *ul)
{
	size_t	 i;

	for (i = 0; i < ul->nrecs; i++) {
		free(ul->recs[i]->ext);
		free(ul->recs[i]);
	}
	free(ul->recs);
	free(ul->byname);
	uidlist_init(ul);
}

static int
parse_u32(const char *s, size_t len, uint32_t *v)
{
	unsigned long long	 n = 0;
	size_t			 i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n > UINT32_MAX)
		return -1;
	*v = n;
	return 0;
}

static int
grow(struct uidlist *ul)
{
	struct uidlist_rec	**n;
	size_t			 cap;

	if (ul->nrecs < ul->cap)
		return 0;
	cap = ul->cap ? ul->cap * 2 : 64;
	if ((n = reallocarray(ul->recs, cap, sizeof(*n))) == NULL)
		return -1;
	ul->recs = n;
	ul->cap = cap;
	return 0;
}

static struct uidlist_rec *
rec_new(uint32_t uid, const char *ext, size_t extlen, const char *name,
    size_t namelen)
{
	struct uidlist_rec	*r;

	if (namelen == 0 || namelen > NAME_MAX ||
	    (r = malloc(sizeof(*r) + namelen + 1)) == NULL)
		return NULL;
	r->uid = uid;
	memcpy(r->name, name, namelen);
	r->name[namelen] = '\0';
	if ((r->ext = strndup(ext != NULL ? ext : "", extlen)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* Length of the field at p: up to a space, a newline or end. */
static size_t
field_len(const char *p, const char *end)
{
	const char	*q = p;

	while (q < end && *q != ' ' && *q != '\n')
		q++;
	return q - p;
}

/* "3 V.. N.. G.. ..." or "1 <uidvalidity> <nextuid>". */
static int
parse_header(struct uidlist *ul, const char *line, size_t len)
{
	const char	*p = line, *end = line + len, *f;
	size_t		 flen, extlen = 0;
	uint32_t	 v;

	if (memchr(line, '\0', len) != NULL)
		return -1;
	if (len >= 2 && line[0] == '1' && line[1] == ' ') {
		ul->version = 1;
		p = line + 2;
		flen = field_len(p, end);
		if (p + flen >= end ||
		    parse_u32(p, flen, &ul->uidvalidity) == -1)
			return -1;
		p += flen + 1;
		if (parse_u32(p, end - p, &ul->nextuid) == -1)
			return -1;
		return ul->uidvalidity == 0 ? -1 : 0;
	}
	if (len < 2 || line[0] != '3' || line[1] != ' ')
		return -1;
	ul->version = 3;
	for (p = line + 2; p < end; p = f + flen + 1) {
		f = p;
		flen = field_len(f, end);
		if (flen == 0)
			continue;
		if (f[0] == 'V' && parse_u32(f + 1, flen - 1, &v) == 0)
			ul->uidvalidity = v;
		else if (f[0] == 'N' && parse_u32(f + 1, flen - 1, &v) == 0)
			ul->nextuid = v;
		else if (f[0] == 'G' && flen == 33)
			memcpy(ul->guid, f + 1, 32);
		else if (strchr("VNG", f[0]) != NULL)
			;	/* a bad V, N or G: written anew */
		else if (extlen + flen + 2 < sizeof(ul->hdr_ext)) {
			/* Fields we do not know are kept for Dovecot. */
			if (extlen > 0)
				ul->hdr_ext[extlen++] = ' ';
			memcpy(ul->hdr_ext + extlen, f, flen);
			extlen += flen;
			ul->hdr_ext[extlen] = '\0';
		}
		if (f + flen >= end)
			break;
	}
	return ul->uidvalidity == 0 ? -1 : 0;
}

/* One record line; a bad one is skipped (-1), the others stand. */
static int
parse_record(struct uidlist *ul, const char *line, size_t len)
{
	const char		*sp, *name, *ext = NULL;
	size_t			 extlen = 0;
	struct uidlist_rec	*r;
	uint32_t		 uid;

	/* No file name holds a NUL or a '/'. */
	if (memchr(line, '\0', len) != NULL || memchr(line, '/', len) != NULL)
		return -1;
	if ((sp = memchr(line, ' ', len)) == NULL ||
	    parse_u32(line, sp - line, &uid) == -1 || uid == 0 ||
	    uid > UIDLIST_UID_MAX)
		return -1;
	if (ul->nrecs > 0 && uid <= ul->recs[ul->nrecs - 1]->uid)
		return -1;
	name = sp + 1;
	if (ul->version == 3) {
		/* The name follows the first " :" (or a leading ':'). */
		if (name < line + len && *name == ':')
			name++;
		else {
			ext = name;
			while (name < line + len && !(name[0] == ' ' &&
			    name + 1 < line + len && name[1] == ':'))
				name++;
			if (name >= line + len)
				return -1;
			extlen = name - ext;
			name += 2;
		}
	}
	if (grow(ul) == -1 || (r = rec_new(uid, ext, extlen, name,
	    line + len - name)) == NULL)
		return -1;
	ul->recs[ul->nrecs++] = r;
	if (uid >= ul->nextuid)
		ul->nextuid = uid + 1;
	return 0;
}

/* The contents of a uidlist file: 0, or -1 (EINVAL) for a bad header. */
int
uidlist_parse(struct uidlist *ul, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 n;
	int		 first = 1;

	uidlist_clear(ul);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (first) {
			if (parse_header(ul, p, n) == -1) {
				uidlist_clear(ul);
				errno = EINVAL;
				return -1;
			}
			first = 0;
		} else if (n > 0 && parse_record(ul, p, n) == -1)
			log_warnx("%s: bad record skipped: %.*s", UIDLIST_FILE,
			    (int)(n > 80 ? 80 : n), p);
	}
	if (first) {
		errno = EINVAL;
		return -1;
	}
	ul->nfile = ul->nrecs;
	ul->byname_ok = 0;
	return 0;
}

static void
note_stat(struct uidlist *ul, const struct stat *st)
{
	ul->dev = st->st_dev;
	ul->ino = st->st_ino;
	ul->size = st->st_size;
	ul->mtime = st->st_mtim;
	ul->exists = 1;
}

/*
 * Read md's uidlist: 0, 1 when there is none (an empty list whose
 * UIDVALIDITY is not set), -1 with errno (EINVAL: not a uidlist).
 */
int
uidlist_read(struct uidlist *ul, int md)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 fd, r, saved;

	if ((fd = openat(md, UIDLIST_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return -1;
		uidlist_clear(ul);
		return 1;
	}
	if (fstat(fd, &st) == -1 ||
	    fileio_read_fd(fd, UIDLIST_MAX_SIZE, &buf, &len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	r = uidlist_parse(ul, buf, len);
	free(buf);
	if (r == 0)
		note_stat(ul, &st);
	return r;
}

/* Has the file changed since it was read or written here?  1 or 0. */
int
uidlist_changed(const struct uidlist *ul, int md)
{
	struct stat	 st;

	if (fstatat(md, UIDLIST_FILE, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return ul->exists;
	return !ul->exists || st.st_dev != ul->dev || st.st_ino != ul->ino ||
	    st.st_size != ul->size ||
	    st.st_mtim.tv_sec != ul->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != ul->mtime.tv_nsec;
}

int
uidlist_lock(int md, struct dotlock *l)
{
	return dotlock_take(md, UIDLIST_FILE, DOTLOCK_STALE, DOTLOCK_WAIT, l);
}

/* A growing output buffer. */
struct outbuf {
	char	*buf;
	size_t	 len, cap;
	int	 err;
};

static void
out_add(struct outbuf *o, const char *s, size_t n)
{
	char	*b;
	size_t	 cap;

	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		if ((b = realloc(o->buf, cap)) == NULL) {
			o->err = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
out_record(struct outbuf *o, const struct uidlist_rec *r)
{
	char	 num[16];
	int	 n;

	n = snprintf(num, sizeof(num), "%u ", r->uid);
	out_add(o, num, n);
	if (r->ext[0] != '\0') {
		out_add(o, r->ext, strlen(r->ext));
		out_add(o, " ", 1);
	}
	out_add(o, ":", 1);
	out_add(o, r->name, strlen(r->name));
	out_add(o, "\n", 1);
}

/* The whole file, version 3, in a new buffer. */
int
uidlist_format(const struct uidlist *ul, char **buf, size_t *len)
{
	struct outbuf	 o = { NULL, 0, 0, 0 };
	char		 hdr[64 + UIDLIST_HDR_EXT_MAX];
	size_t		 i;
	int		 n;

	n = snprintf(hdr, sizeof(hdr), "3 V%u N%u%s%s%s%s\n",
	    ul->uidvalidity, ul->nextuid, ul->guid[0] != '\0' ? " G" : "",
	    ul->guid, ul->hdr_ext[0] != '\0' ? " " : "", ul->hdr_ext);
	out_add(&o, hdr, n);
	for (i = 0; i < ul->nrecs; i++)
		out_record(&o, ul->recs[i]);
	if (o.err) {
		free(o.buf);
		errno = ENOMEM;
		return -1;
	}
	*buf = o.buf;
	*len = o.len;
	return 0;
}

/* New records at the end of the file we hold the lock for. */
static int
append_records(struct uidlist *ul, int md)
{
	struct outbuf	 o = { NULL, 0, 0, 0 };
	struct stat	 st;
	size_t		 i;
	int		 fd, rv = -1;

	for (i = ul->nfile; i < ul->nrecs; i++)
		out_record(&o, ul->recs[i]);
	if (o.err) {
		errno = ENOMEM;
		goto done;
	}
	if ((fd = openat(md, UIDLIST_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		goto done;
	if (write_all(fd, o.buf, o.len) == 0 && fsync(fd) == 0 &&
	    fstat(fd, &st) == 0) {
		note_stat(ul, &st);
		ul->nfile = ul->nrecs;
		rv = 0;
	}
	close(fd);
 done:
	free(o.buf);
	return rv;
}

/*
 * Write what changed, then release the lock l (taken with
 * uidlist_lock() before the list was read): an append when only new
 * records were added to the file as read, else a rewrite.
 */
int
uidlist_commit(struct uidlist *ul, int md, struct dotlock *l)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 r;

	if (ul->exists && !ul->removed && !uidlist_changed(ul, md)) {
		if (ul->nfile == ul->nrecs) {
			dotlock_release(l);
			return 0;
		}
		r = append_records(ul, md);
		dotlock_release(l);
		return r;
	}
	if (uidlist_format(ul, &buf, &len) == -1) {
		dotlock_release(l);
		return -1;
	}
	r = dotlock_replace(l, buf, len);
	free(buf);
	if (r == 0 && fstatat(md, UIDLIST_FILE, &st,
	    AT_SYMLINK_NOFOLLOW) == 0) {
		note_stat(ul, &st);
		ul->nfile = ul->nrecs;
		ul->removed = 0;
	}
	return r;
}

/* A list read as absent gets UIDVALIDITY and a GUID (as Dovecot). */
int
uidlist_setup(struct uidlist *ul, int root)
{
	unsigned char	 g[16];
	size_t		 i;

	if (ul->uidvalidity != 0)
		return 0;
	if ((ul->uidvalidity = uidvalidity_next(root, time(NULL))) == 0)
		return -1;
	arc4random_buf(g, sizeof(g));
	for (i = 0; i < sizeof(g); i++)
		snprintf(ul->guid + 2 * i, 3, "%02x", g[i]);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct uidlist_rec	*ra = *(struct uidlist_rec * const *)a;
	const struct uidlist_rec	*rb = *(struct uidlist_rec * const *)b;

	return maildir_base_cmp(ra->name, rb->name);
}

/* The record of a file (any flags after ':' are ignored), or NULL. */
struct uidlist_rec *
uidlist_lookup(struct uidlist *ul, const char *name)
{
	struct uidlist_rec	*k;
	size_t			 lo = 0, hi, mid;
	int			 c;

	if (!ul->byname_ok) {
		free(ul->byname);
		if ((ul->byname = reallocarray(NULL, ul->nrecs + 1,
		    sizeof(*ul->byname))) == NULL)
			return NULL;
		if (ul->nrecs > 0)
			memcpy(ul->byname, ul->recs,
			    ul->nrecs * sizeof(*ul->recs));
		qsort(ul->byname, ul->nrecs, sizeof(*ul->byname), name_cmp);
		ul->byname_ok = 1;
	}
	hi = ul->nrecs;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		k = ul->byname[mid];
		if ((c = maildir_base_cmp(name, k->name)) == 0)
			return k;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static size_t
uid_index(const struct uidlist *ul, uint32_t uid, int *found)
{
	size_t	 lo = 0, hi = ul->nrecs, mid;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ul->recs[mid]->uid == uid) {
			*found = 1;
			return mid;
		}
		if (ul->recs[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct uidlist_rec *
uidlist_get(const struct uidlist *ul, uint32_t uid)
{
	size_t	 i;
	int	 found;

	i = uid_index(ul, uid, &found);
	return found ? ul->recs[i] : NULL;
}

/* A new file gets the next UID: that UID, or 0 with errno. */
uint32_t
uidlist_add(struct uidlist *ul, const char *name)
{
	struct uidlist_rec	*r;
	size_t			 len = strcspn(name, ":");

	if (ul->nextuid == 0 || ul->nextuid > UIDLIST_UID_MAX) {
		errno = EOVERFLOW;
		return 0;
	}
	if (grow(ul) == -1 || (r = rec_new(ul->nextuid, NULL, 0, name,
	    len)) == NULL) {
		errno = errno ? errno : EINVAL;
		return 0;
	}
	ul->recs[ul->nrecs++] = r;
	ul->byname_ok = 0;
	return ul->nextuid++;
}

int
uidlist_remove(struct uidlist *ul, uint32_t uid)
{
	size_t	 i;
	int	 found;

	i = uid_index(ul, uid, &found);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	free(ul->recs[i]->ext);
	free(ul->recs[i]);
	memmove(ul->recs + i, ul->recs + i + 1,
	    (ul->nrecs - i - 1) * sizeof(*ul->recs));
	ul->nrecs--;
	if (i < ul->nfile)
		ul->nfile--;
	ul->removed = 1;
	ul->byname_ok = 0;
	return 0;
}

/* The value of extension field key of a record ("P" POP3 UIDL, ...). */
const char *
uidlist_ext(const struct uidlist_rec *r, char key, size_t *len)
{
	const char	*p = r->ext;

	while (*p != '\0') {
		if (*p == key) {
			*len = strcspn(p + 1, " ");
			return p + 1;
		}
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return NULL;
}

/* The last UIDVALIDITY given in this mail root, or 0. */
static uint32_t
uidvalidity_last(int root)
{
	char		 buf[16];
	ssize_t		 n;
	int		 fd;
	unsigned long	 v;
	char		*end;

	if ((fd = openat(root, UIDVALIDITY_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtoul(buf, &end, 16);
	if (end == buf || v > UINT32_MAX)
		return 0;
	return v;
}

/* Record v as the last value given: the marker file, then the file. */
static void
uidvalidity_record(int root, uint32_t old, uint32_t v)
{
	char	 hex[16], tmp[64];
	int	 fd;

	snprintf(hex, sizeof(hex), "%08x", v);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", UIDVALIDITY_FILE,
	    (long)getpid());
	if ((fd = openat(root, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return;
	if (write_all(fd, hex, 8) == -1 ||
	    renameat(root, tmp, root, UIDVALIDITY_FILE) == -1)
		unlinkat(root, tmp, 0);
	close(fd);
	if (old != 0 && old != v) {
		snprintf(tmp, sizeof(tmp), "%s.%08x", UIDVALIDITY_FILE, old);
		unlinkat(root, tmp, 0);
	}
}

/*
 * The UIDVALIDITY for a new folder below the mail root: the clock, or
 * one more than the last value given if that is later.  The marker
 * file dovecot-uidvalidity.<hex> made with O_EXCL makes the value ours
 * even when another process (Dovecot) creates a folder at once.
 */
uint32_t
uidvalidity_next(int root, time_t now)
{
	char		 marker[64];
	uint32_t	 last, v;
	int		 fd, tries;

	last = uidvalidity_last(root);
	v = (uint32_t)now;
	if (last != 0 && last >= v)
		v = last + 1;
	for (tries = 0; tries < 1000; tries++, v++) {
		if (v == 0)
			v = 1;
		snprintf(marker, sizeof(marker), "%s.%08x", UIDVALIDITY_FILE,
		    v);
		fd = openat(root, marker, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0444);
		if (fd != -1) {
			close(fd);
			uidvalidity_record(root, last, v);
			return v;
		}
		if (errno != EEXIST)
			break;
	}
	/* No marker possible (read-only root): the clock alone. */
	return v != 0 ? v : 1;
}
