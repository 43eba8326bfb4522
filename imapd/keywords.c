/*
 * dovecot-keywords holds one "<index> <keyword>" line per keyword a
 * folder has used; index 0 is letter 'a' in a file's ":2," flags, 25
 * is 'z' (so struct maildir_flags' keyword bit n is index n).  A
 * keyword is added under the dot-lock dovecot-keywords.lock, the file
 * read again under it so that a keyword another process added at once
 * keeps its letter, and rewritten through the lock.  Keywords match
 * without regard to case, as IMAP flags do; the name as first stored
 * is the one shown.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dotlock.h"
#include "fileio.h"
#include "keywords.h"

#define KEYWORDS_FILE_MAX	(KEYWORDS_MAX * (KEYWORD_LEN_MAX + 8))

void
keywords_init(struct keywords *kw)
{
	memset(kw, 0, sizeof(*kw));
}

void
keywords_clear(struct keywords *kw)
{
	size_t	 i;

	for (i = 0; i < KEYWORDS_MAX; i++)
		free(kw->name[i]);
	keywords_init(kw);
}

/* An IMAP flag-keyword atom: no specials, no '\\', printable ASCII. */
int
keywords_valid(const char *name)
{
	const unsigned char	*p;
	size_t			 len = strlen(name);

	if (len == 0 || len > KEYWORD_LEN_MAX)
		return 0;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return 0;
	return 1;
}

/* Lines "<n> <name>"; a line that is not one is skipped. */
int
keywords_parse(struct keywords *kw, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *nl, *sp;
	const char	*num;
	unsigned long	 idx;

	keywords_clear(kw);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if ((sp = memchr(p, ' ', nl - p)) == NULL || sp == p)
			continue;
		for (idx = 0, num = p; num < sp && *num >= '0' && *num <= '9' &&
		    idx < KEYWORDS_MAX; num++)
			idx = idx * 10 + (*num - '0');
		if (num != sp || idx >= KEYWORDS_MAX || kw->name[idx] != NULL)
			continue;
		if ((kw->name[idx] = strndup(sp + 1, nl - sp - 1)) == NULL)
			return -1;
		if (!keywords_valid(kw->name[idx])) {
			free(kw->name[idx]);
			kw->name[idx] = NULL;
		}
	}
	return 0;
}

/* The file's contents; its length, or -1 if it does not fit. */
int
keywords_format(const struct keywords *kw, char *buf, size_t bufsz)
{
	size_t	 i, len = 0;
	int	 n;

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->name[i] == NULL)
			continue;
		n = snprintf(buf + len, bufsz - len, "%zu %s\n", i,
		    kw->name[i]);
		if (n < 0 || (size_t)n >= bufsz - len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		len += n;
	}
	return (int)len;
}

/* 0 (no file is no keywords), or -1. */
int
keywords_read(struct keywords *kw, int md)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 fd, r;

	if ((fd = openat(md, KEYWORDS_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		keywords_clear(kw);
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) == -1 ||
	    fileio_read_fd(fd, KEYWORDS_FILE_MAX, &buf, &len) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	r = keywords_parse(kw, buf, len);
	free(buf);
	kw->dev = st.st_dev;
	kw->ino = st.st_ino;
	kw->size = st.st_size;
	kw->mtime = st.st_mtim;
	kw->exists = 1;
	return r;
}

int
keywords_changed(const struct keywords *kw, int md)
{
	struct stat	 st;

	if (fstatat(md, KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return kw->exists;
	return !kw->exists || st.st_ino != kw->ino || st.st_dev != kw->dev ||
	    st.st_size != kw->size ||
	    st.st_mtim.tv_sec != kw->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != kw->mtime.tv_nsec;
}

/* The index (letter - 'a') of a keyword, or -1. */
int
keywords_find(const struct keywords *kw, const char *name)
{
	size_t	 i;

	for (i = 0; i < KEYWORDS_MAX; i++)
		if (kw->name[i] != NULL && strcasecmp(kw->name[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
keywords_name(const struct keywords *kw, unsigned int idx)
{
	return idx < KEYWORDS_MAX ? kw->name[idx] : NULL;
}

/*
 * The index of a keyword, added to the file if new: -1 with errno
 * EINVAL (not a keyword), ENOSPC (all 26 letters used) or a lock or
 * write error.
 */
int
keywords_add(struct keywords *kw, int md, const char *name)
{
	struct dotlock	 l;
	char		 buf[KEYWORDS_FILE_MAX];
	int		 i, len;

	if (!keywords_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((i = keywords_find(kw, name)) != -1 && !keywords_changed(kw, md))
		return i;
	if (dotlock_take(md, KEYWORDS_FILE, DOTLOCK_STALE, DOTLOCK_WAIT,
	    &l) == -1)
		return -1;
	if (keywords_read(kw, md) == -1)
		goto fail;
	if ((i = keywords_find(kw, name)) != -1) {
		dotlock_release(&l);
		return i;
	}
	for (i = 0; i < KEYWORDS_MAX && kw->name[i] != NULL; i++)
		;
	if (i == KEYWORDS_MAX) {
		errno = ENOSPC;
		goto fail;
	}
	if ((kw->name[i] = strdup(name)) == NULL ||
	    (len = keywords_format(kw, buf, sizeof(buf))) == -1)
		goto fail;
	if (dotlock_replace(&l, buf, len) == -1)
		return -1;
	(void)keywords_read(kw, md);
	return i;
 fail:
	dotlock_release(&l);
	return -1;
}
