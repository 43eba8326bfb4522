/*
 * Subscriptions.  Dovecot 2.3 writes a version line and an empty line,
 * then one mailbox per line with a TAB between hierarchy levels (so
 * the file does not depend on the separator):
 *
 *	V<TAB>2
 *	<empty>
 *	Sent
 *	a<TAB>b
 *
 * Older Dovecot and Courier wrote one name per line with the
 * separator ('.') in it; both are read, and the 2.3 form is written,
 * under the dot-lock subscriptions.lock.  Here names carry '.'.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dotlock.h"
#include "fileio.h"
#include "subscriptions.h"

#define V2_HEADER	"V\t2\n\n"

void
subs_init(struct subscriptions *s)
{
	memset(s, 0, sizeof(*s));
}

void
subs_clear(struct subscriptions *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		free(s->name[i]);
	free(s->name);
	subs_init(s);
}

static int
same_name(const char *a, const char *b)
{
	/* INBOX is one mailbox in any case. */
	if (strcasecmp(a, "INBOX") == 0)
		return strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

int
subs_has(const struct subscriptions *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (same_name(s->name[i], name))
			return 1;
	return 0;
}

int
subs_add(struct subscriptions *s, const char *name)
{
	char	**n;
	size_t	  cap;

	if (*name == '\0' || strpbrk(name, "\t\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (subs_has(s, name))
		return 0;
	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 16;
		if ((n = reallocarray(s->name, cap, sizeof(*n))) == NULL)
			return -1;
		s->name = n;
		s->cap = cap;
	}
	if ((s->name[s->n] = strdup(name)) == NULL)
		return -1;
	s->n++;
	return 0;
}

int
subs_remove(struct subscriptions *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (same_name(s->name[i], name)) {
			free(s->name[i]);
			s->name[i] = s->name[--s->n];
			return 0;
		}
	return 0;
}

int
subs_parse(struct subscriptions *s, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *nl;
	char		 name[1024];
	size_t		 n, i;
	int		 v2 = 0;

	subs_clear(s);
	if (len >= 4 && memcmp(buf, "V\t2\n", 4) == 0) {
		v2 = 1;
		p += 4;
	}
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || n >= sizeof(name))
			continue;
		for (i = 0; i < n; i++)
			name[i] = v2 && p[i] == '\t' ? '.' : p[i];
		name[n] = '\0';
		if (subs_add(s, name) == -1 && errno != EINVAL)
			return -1;
	}
	return 0;
}

int
subs_format(const struct subscriptions *s, char **buf, size_t *len)
{
	size_t	 i, size = sizeof(V2_HEADER), off, n;
	char	*b, *c;

	for (i = 0; i < s->n; i++)
		size += strlen(s->name[i]) + 1;
	if ((b = malloc(size)) == NULL)
		return -1;
	memcpy(b, V2_HEADER, sizeof(V2_HEADER) - 1);
	off = sizeof(V2_HEADER) - 1;
	for (i = 0; i < s->n; i++) {
		n = strlen(s->name[i]);
		memcpy(b + off, s->name[i], n);
		for (c = b + off; c < b + off + n; c++)
			if (*c == '.')
				*c = '\t';
		off += n;
		b[off++] = '\n';
	}
	b[off] = '\0';
	*buf = b;
	*len = off;
	return 0;
}

/* 0 (no file: none), or -1. */
int
subs_read(struct subscriptions *s, int root)
{
	char	*buf;
	size_t	 len;
	int	 fd, r;

	subs_clear(s);
	if ((fd = openat(root, SUBSCRIPTIONS_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	r = fileio_read_fd(fd, SUBSCRIPTIONS_MAX_SIZE, &buf, &len);
	close(fd);
	if (r == -1)
		return -1;
	r = subs_parse(s, buf, len);
	free(buf);
	return r;
}

/* (Un)subscribe one name: read, change and rewrite under the lock. */
int
subs_update(int root, const char *name, int subscribe)
{
	struct subscriptions	 s;
	struct dotlock		 l;
	char			*buf;
	size_t			 len;
	int			 r;

	if (dotlock_take(root, SUBSCRIPTIONS_FILE, DOTLOCK_STALE,
	    DOTLOCK_WAIT, &l) == -1)
		return -1;
	subs_init(&s);
	if (subs_read(&s, root) == -1 ||
	    (subscribe ? subs_add(&s, name) : subs_remove(&s, name)) == -1 ||
	    subs_format(&s, &buf, &len) == -1) {
		subs_clear(&s);
		dotlock_release(&l);
		return -1;
	}
	r = dotlock_replace(&l, buf, len);
	free(buf);
	subs_clear(&s);
	return r;
}
