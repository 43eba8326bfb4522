/*
 * Public Suffix List rules in an open-addressing hash set: one entry per
 * name, with the kinds of rule written for it ("name", "*.name",
 * "!name").  The text of the rules lives in one block allocated at
 * load time.  Lookup walks the suffixes of the name from the longest:
 * an exception rule wins, else the rule with most labels, else the
 * implicit "*" (RFC 7489 3.2 and the list's own algorithm).
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psl.h"

#define RULE_NORMAL	0x01
#define RULE_WILDCARD	0x02	/* "*.name": every child of name */
#define RULE_EXCEPTION	0x04	/* "!name" */
#define NAME_MAX_LEN	253

struct psl_entry {
	const char	*name;		/* NULL: empty slot */
	int		 kinds;
};

struct psl {
	char			*text;	/* the names, NUL-terminated */
	size_t			 count;
	size_t			 mask;	/* table size - 1 */
	struct psl_entry	*table;
};

static uint32_t
hash_name(const char *p, size_t len)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static struct psl_entry *
slot(const struct psl *l, const char *name, size_t len)
{
	struct psl_entry	*e;
	size_t			 i;

	i = hash_name(name, len) & l->mask;
	for (;;) {
		e = &l->table[i];
		if (e->name == NULL || (strlen(e->name) == len &&
		    memcmp(e->name, name, len) == 0))
			return e;
		i = (i + 1) & l->mask;
	}
}

static int
kinds_of(const struct psl *l, const char *name)
{
	struct psl_entry	*e;

	if (l == NULL)
		return 0;
	e = slot(l, name, strlen(name));
	return e->name == NULL ? 0 : e->kinds;
}

/* A rule line's first word: its kind, and the name it is about. */
static int
rule_kind(char **name)
{
	char	*p = *name;

	if (p[0] == '!') {
		*name = p + 1;
		return RULE_EXCEPTION;
	}
	if (p[0] == '*' && p[1] == '.') {
		*name = p + 2;
		return RULE_WILDCARD;
	}
	return RULE_NORMAL;
}

/* Names as the list writes them: labels, no empty one, no other '*'. */
static int
rule_name_ok(const char *p)
{
	size_t	 len = strlen(p), i;

	if (len == 0 || len > NAME_MAX_LEN || p[0] == '.' ||
	    p[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] == '*' || p[i] == '!' ||
		    (p[i] == '.' && p[i + 1] == '.'))
			return 0;
	return 1;
}

struct psl *
psl_parse(const char *data, size_t len, char *err, size_t errsz)
{
	struct psl		*l;
	struct psl_entry	*e;
	char			*line, *next, *end, *name;
	size_t			 lines = 0, size, i;
	int			 kind;

	if (len > PSL_FILE_MAX) {
		snprintf(err, errsz, "list larger than %d bytes", PSL_FILE_MAX);
		return NULL;
	}
	for (i = 0; i < len; i++)
		if (data[i] == '\n')
			lines++;
	lines++;
	if (lines > PSL_RULES_MAX)
		lines = PSL_RULES_MAX;
	for (size = 16; size < 2 * lines; size *= 2)
		;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->text = malloc(len + 1)) == NULL ||
	    (l->table = calloc(size, sizeof(*l->table))) == NULL) {
		psl_free(l);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	l->mask = size - 1;
	memcpy(l->text, data, len);
	l->text[len] = '\0';
	for (line = l->text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || (line[0] == '/' && line[1] == '/'))
			continue;
		/* The rule is the first word; the rest is ignored. */
		for (end = line; *end != '\0' && !isspace((unsigned char)*end);
		    end++)
			*end = tolower((unsigned char)*end);
		*end = '\0';
		name = line;
		kind = rule_kind(&name);
		if (!rule_name_ok(name))
			continue;
		e = slot(l, name, strlen(name));
		if (e->name == NULL) {
			if (l->count == PSL_RULES_MAX) {
				snprintf(err, errsz, "more than %d rules",
				    PSL_RULES_MAX);
				psl_free(l);
				return NULL;
			}
			e->name = name;
			l->count++;
		}
		e->kinds |= kind;
	}
	if (l->count == 0) {
		snprintf(err, errsz, "no rules");
		psl_free(l);
		return NULL;
	}
	return l;
}

struct psl *
psl_load(const char *path, char *err, size_t errsz)
{
	struct psl	*l;
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PSL_FILE_MAX) {
		snprintf(err, errsz, "%s: not a file of at most %d bytes",
		    path, PSL_FILE_MAX);
		close(fd);
		return NULL;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "%s: %s", path, n == 0 ?
			    "short read" : strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		off += n;
	}
	close(fd);
	l = psl_parse(buf, off, err, errsz);
	free(buf);
	return l;
}

void
psl_free(struct psl *l)
{
	if (l == NULL)
		return;
	free(l->text);
	free(l->table);
	free(l);
}

size_t
psl_count(const struct psl *l)
{
	return l == NULL ? 0 : l->count;
}

int
psl_org_domain(const struct psl *l, const char *domain, char *out,
    size_t outsz)
{
	char		 name[NAME_MAX_LEN + 2];
	const char	*label[128];
	size_t		 len, n = 0, i, suffix = 0;

	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_MAX_LEN)
		return -1;
	for (i = 0; i < len; i++)
		name[i] = tolower((unsigned char)domain[i]);
	name[len] = '\0';
	/* label[i]: the suffix starting at the i-th label. */
	for (i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (i == 0 || name[i - 1] == '.' || (i < len &&
			    i + 1 == len))
				return -1;
			continue;
		}
		if (i == 0 || name[i - 1] == '.') {
			if (n == sizeof(label) / sizeof(label[0]))
				return -1;
			label[n++] = name + i;
		}
	}
	/* An exception rule: the suffix is the rule less its first label. */
	for (i = 0; i < n && suffix == 0; i++)
		if (kinds_of(l, label[i]) & RULE_EXCEPTION)
			suffix = n - i - 1;
	for (i = 0; i < n && suffix == 0; i++)
		if ((kinds_of(l, label[i]) & RULE_NORMAL) ||
		    (i + 1 < n && (kinds_of(l, label[i + 1]) &
		    RULE_WILDCARD)))
			suffix = n - i;
	if (suffix == 0)
		suffix = 1;
	if (strlen(name) >= outsz)
		return -1;
	if (suffix >= n) {
		memcpy(out, name, strlen(name) + 1);
		return 1;
	}
	memcpy(out, label[n - suffix - 1], strlen(label[n - suffix - 1]) + 1);
	return 0;
}
