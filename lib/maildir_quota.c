/*
 * The Maildir++ quota file, maildirsize, as Courier specified it and
 * Dovecot keeps it: a first line with the limits ("<n>S" bytes, "<n>C"
 * messages, comma separated), then lines "<bytes> <count>" whose sums
 * are the use of the whole Maildir.  A delivery appends one line with
 * one write(2) in O_APPEND mode, so concurrent writers never mix their
 * lines; a file grown past 5120 bytes, or one that does not parse, is
 * recalculated by counting the messages and replaced by rename(2).
 *
 * Every message counts, in INBOX and every folder, Trash included, as
 * Dovecot counts by default; a size comes from the name's S= when it
 * has one, else from stat(2).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "maildir.h"

#define QUOTA_FILE	"maildirsize"
#define QUOTA_READ_MAX	(64 * 1024)	/* beyond that: recalculate */

/* A decimal integer, maybe negative, ending at a non-digit. */
static int
parse_int(const char **pp, const char *end, int64_t *v)
{
	const char	*p = *pp;
	int		 neg = 0;
	int64_t		 n = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*v = neg ? -n : n;
	*pp = p;
	return 0;
}

/* The limit line: "" or items "<n>S" / "<n>C" separated by commas. */
static int
parse_limits(const char *p, const char *end, struct maildir_quota *q)
{
	int64_t	 v;

	q->max_bytes = q->max_count = 0;
	while (p < end) {
		if (parse_int(&p, end, &v) == -1 || v < 0 || p == end)
			return -1;
		if (*p == 'S')
			q->max_bytes = v;
		else if (*p == 'C')
			q->max_count = v;
		else
			return -1;
		/* A comma is between two items, never at the end. */
		if (++p < end && (*p++ != ',' || p == end))
			return -1;
	}
	return 0;
}

/* Adds without overflow; -1 if the sum would not fit. */
static int
add_checked(int64_t *sum, int64_t v)
{
	if ((v > 0 && *sum > INT64_MAX - v) ||
	    (v < 0 && *sum < INT64_MIN - v))
		return -1;
	*sum += v;
	return 0;
}

/*
 * The whole file in buf.  The limits are filled whenever the first
 * line parses; -1 (errno EINVAL) if any line does not, or the last one
 * is cut short (a writer died in its write): the sums cannot be
 * trusted and the file must be recalculated.
 */
int
maildir_quota_parse(const char *buf, size_t len, struct maildir_quota *q)
{
	const char	*p, *end = buf + len, *nl;
	int64_t		 b, c;

	memset(q, 0, sizeof(*q));
	q->filesize = len;
	if ((nl = memchr(buf, '\n', len)) == NULL ||
	    parse_limits(buf, nl, q) == -1)
		goto bad;
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			goto bad;
		while (p < nl && *p == ' ')
			p++;
		if (parse_int(&p, nl, &b) == -1 || p == nl || *p != ' ')
			goto bad;
		while (p < nl && *p == ' ')
			p++;
		if (parse_int(&p, nl, &c) == -1)
			goto bad;
		while (p < nl && *p == ' ')
			p++;
		if (p != nl || add_checked(&q->bytes, b) == -1 ||
		    add_checked(&q->count, c) == -1)
			goto bad;
	}
	return 0;
 bad:
	errno = EINVAL;
	return -1;
}

/* The limit line without its newline; "" when there is no limit. */
int
maildir_quota_def_format(int64_t max_bytes, int64_t max_count, char *buf,
    size_t bufsz)
{
	int	 n;

	if (max_bytes > 0 && max_count > 0)
		n = snprintf(buf, bufsz, "%lldS,%lldC", (long long)max_bytes,
		    (long long)max_count);
	else if (max_bytes > 0)
		n = snprintf(buf, bufsz, "%lldS", (long long)max_bytes);
	else if (max_count > 0)
		n = snprintf(buf, bufsz, "%lldC", (long long)max_count);
	else
		n = snprintf(buf, bufsz, "%s", "");
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Would adding bytes and count go over a limit?  1 or 0. */
int
maildir_quota_exceeded(const struct maildir_quota *q, int64_t bytes,
    int64_t count)
{
	if (q->max_bytes > 0 && bytes > 0 && q->bytes > q->max_bytes - bytes)
		return 1;
	if (q->max_count > 0 && count > 0 && q->count > q->max_count - count)
		return 1;
	return 0;
}

/*
 * Read md's maildirsize.  -1 with errno ENOENT when there is none (no
 * quota kept), EINVAL when it must be recalculated (the limits are
 * filled if they could be read), or another error.
 */
int
maildir_quota_read(int md, struct maildir_quota *q)
{
	char		 buf[QUOTA_READ_MAX];
	struct stat	 st;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, saved;

	memset(q, 0, sizeof(*q));
	if ((fd = openat(md, QUOTA_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	while (len < sizeof(buf)) {
		if ((n = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (fstat(fd, &st) == -1)
		st.st_size = len;
	close(fd);
	if (maildir_quota_parse(buf, len, q) == -1 || len == sizeof(buf)) {
		q->filesize = st.st_size;
		errno = EINVAL;
		return -1;
	}
	q->filesize = st.st_size;
	return 0;
}

/*
 * One line "<bytes> <count>" appended, if md keeps a maildirsize (else
 * -1, errno ENOENT).  1 when the file has grown past the point where
 * Maildir++ wants it recalculated, else 0.
 */
int
maildir_quota_add(int md, int64_t bytes, int64_t count)
{
	char		 line[64];
	struct stat	 st;
	int		 fd, n, saved;

	if ((fd = openat(md, QUOTA_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)bytes,
	    (long long)count);
	/* One write: O_APPEND keeps concurrent lines whole. */
	if (write(fd, line, n) != n || fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return st.st_size > MAILDIR_QUOTA_RECALC;
}

/* Sizes and number of the messages in one directory (new/ or cur/). */
static int
count_dir(int at, const char *name, int64_t *bytes, int64_t *count)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 size;

	if ((d = opendir_at(at, name)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (maildir_name_size(de->d_name, 'S', &size) == -1) {
			/* Gone meanwhile (expunged, moved): not counted. */
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
			size = st.st_size;
		}
		*bytes += size;
		(*count)++;
	}
	closedir(d);
	return 0;
}

/* INBOX and every folder: the directories whose names start with '.'. */
static int
count_maildir(int md, int64_t *bytes, int64_t *count)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[NAME_MAX + 8];
	int		 rv = 0;

	if (count_dir(md, "new", bytes, count) == -1 ||
	    count_dir(md, "cur", bytes, count) == -1)
		return -1;
	if ((d = opendir_at(md, ".")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/new", de->d_name);
		if (count_dir(md, path, bytes, count) == -1)
			rv = -1;
		snprintf(path, sizeof(path), "%s/cur", de->d_name);
		if (count_dir(md, path, bytes, count) == -1)
			rv = -1;
	}
	closedir(d);
	return rv;
}

/*
 * Count the messages and replace maildirsize with the limits of q and
 * one line of sums, written in tmp/ and renamed into place.  q gets
 * the new sums.
 */
int
maildir_quota_recalc(int md, struct maildir_uniq *u,
    struct maildir_quota *q)
{
	struct maildir_tmp	 t;
	char			 def[MAILDIR_QUOTA_DEF_MAX], buf[160];
	char			 tmp[MAILDIR_NAME_MAX + 8];
	int64_t			 bytes = 0, count = 0;
	int			 n;

	if (count_maildir(md, &bytes, &count) == -1 ||
	    maildir_quota_def_format(q->max_bytes, q->max_count, def,
	    sizeof(def)) == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%s\n%lld %lld\n", def,
	    (long long)bytes, (long long)count);
	if (maildir_tmp_open(md, u, &t) == -1)
		return -1;
	if (maildir_tmp_write(&t, buf, n) == -1 || fsync(t.fd) == -1) {
		maildir_tmp_abort(md, &t);
		return -1;
	}
	close(t.fd);
	t.fd = -1;
	snprintf(tmp, sizeof(tmp), "tmp/%s", t.base);
	if (renameat(md, tmp, md, QUOTA_FILE) == -1) {
		maildir_tmp_abort(md, &t);
		return -1;
	}
	q->bytes = bytes;
	q->count = count;
	q->filesize = n;
	return fsync(md);
}

/*
 * The usage of md and the limits in force for a quota from authd
 * (MAILDIR_QUOTA_*).  A file that must be recalculated is; so is one
 * whose byte limit is not the quota, as Dovecot does when a limit
 * changes, so that the first line always says what is enforced.  With
 * a limit and no file, the file is made; -1 with errno ENOENT when no
 * limit applies and there is no file: nothing is counted.
 */
int
maildir_quota_sync(int md, struct maildir_uniq *u, uint64_t quota,
    struct maildir_quota *q)
{
	int64_t	 max;
	int	 r;

	r = maildir_quota_read(md, q);
	if (r == -1 && errno != ENOENT && errno != EINVAL)
		return -1;
	if (quota == MAILDIR_QUOTA_UNSET) {
		if (r == 0 || errno == ENOENT)
			return r;
		return maildir_quota_recalc(md, u, q);
	}
	max = quota == MAILDIR_QUOTA_NONE ? 0 :
	    quota > INT64_MAX ? INT64_MAX : (int64_t)quota;
	if (r == 0 && q->max_bytes == max)
		return 0;
	if (r == -1 && errno == ENOENT) {
		if (max == 0)
			return -1;
		q->max_count = 0;
	}
	q->max_bytes = max;
	return maildir_quota_recalc(md, u, q);
}
