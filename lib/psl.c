/*
 * Public Suffix List rules in an open-addressing hash set: one entry per
 * name, with the kinds of rule written for it ("name", "*.name",
 * "!name").  The text of the rules lives in one block allocated at
 * load time.  Lookup walks the suffixes of the name from the longest:
 * an exception rule wins, else the rule with most labels, else the
 * implicit "*" (RFC 7489 3.2 and the list's own algorithm).
 *
 * The list writes internationalized rules in UTF-8 (U-labels) while
 * mail and DNS carry A-labels ("xn--"), so such rules are stored in
 * their Punycode form (RFC 3492) and a UTF-8 name asked about is turned
 * into A-labels the same way.  Without that, every name under the
 * rule for xn--55qx5d.cn would share one organisational domain.  Only the Punycode step of
 * IDNA is done: the list is already in normal form.
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

/* Punycode (RFC 3492 5). */
#define PC_BASE		36
#define PC_TMIN		1
#define PC_TMAX		26
#define PC_SKEW		38
#define PC_DAMP		700
#define PC_BIAS		72
#define PC_N		128

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

static uint32_t
pc_adapt(uint32_t delta, uint32_t points, int first)
{
	uint32_t	 k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / points;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static int
pc_put(char *out, size_t outsz, size_t *o, uint32_t d)
{
	if (*o + 1 >= outsz)
		return -1;
	out[(*o)++] = d < 26 ? 'a' + d : '0' + d - 26;
	return 0;
}

/* UTF-8 of one label into code points: their count, or -1. */
static int
utf8_decode(const unsigned char *p, size_t len, uint32_t *cp, size_t max)
{
	size_t		 i = 0, n = 0, extra, j;
	uint32_t	 c;

	while (i < len) {
		c = p[i++];
		if (c < 0x80)
			extra = 0;
		else if ((c & 0xe0) == 0xc0) {
			c &= 0x1f;
			extra = 1;
		} else if ((c & 0xf0) == 0xe0) {
			c &= 0x0f;
			extra = 2;
		} else if ((c & 0xf8) == 0xf0) {
			c &= 0x07;
			extra = 3;
		} else
			return -1;
		if (i + extra > len || n == max)
			return -1;
		for (j = 0; j < extra; j++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			c = c << 6 | (p[i++] & 0x3f);
		}
		/* Overlong forms, surrogates and beyond Unicode: refused. */
		if ((extra == 1 && c < 0x80) || (extra == 2 && c < 0x800) ||
		    (extra == 3 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff))
			return -1;
		cp[n++] = c;
	}
	return (int)n;
}

/* One UTF-8 label as "xn--" and its Punycode: 0, or -1. */
static int
label_to_ascii(const char *in, size_t len, char *out, size_t outsz,
    size_t *olen)
{
	uint32_t	 cp[64], n = PC_N, delta = 0, bias = PC_BIAS, m, q, k, t;
	size_t		 o = 0, i, b = 0, h;
	int		 count;

	if ((count = utf8_decode((const unsigned char *)in, len, cp, 64)) <= 0)
		return -1;
	if (outsz < 5)
		return -1;
	memcpy(out, "xn--", 4);
	o = 4;
	for (i = 0; i < (size_t)count; i++)
		if (cp[i] < 0x80) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = cp[i];
			b++;
		}
	if (b > 0) {
		if (o + 1 >= outsz)
			return -1;
		out[o++] = '-';
	}
	for (h = b; h < (size_t)count; n++, delta++) {
		for (m = UINT32_MAX, i = 0; i < (size_t)count; i++)
			if (cp[i] >= n && cp[i] < m)
				m = cp[i];
		/* Labels are short: no overflow, but say so if it were. */
		if ((m - n) > (UINT32_MAX - delta) / (h + 1))
			return -1;
		delta += (m - n) * (h + 1);
		n = m;
		for (i = 0; i < (size_t)count; i++) {
			if (cp[i] < n && ++delta == 0)
				return -1;
			if (cp[i] != n)
				continue;
			for (q = delta, k = PC_BASE;; k += PC_BASE) {
				t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ?
				    PC_TMAX : k - bias;
				if (q < t)
					break;
				if (pc_put(out, outsz, &o,
				    t + (q - t) % (PC_BASE - t)) == -1)
					return -1;
				q = (q - t) / (PC_BASE - t);
			}
			if (pc_put(out, outsz, &o, q) == -1)
				return -1;
			bias = pc_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
	}
	*olen = o;
	return 0;
}

/*
 * A name with UTF-8 labels in A-label form into out (ASCII labels as
 * they are): 0, or -1 if a label is not UTF-8 or the name gets too long.
 */
static int
name_to_ascii(const char *in, char *out, size_t outsz)
{
	const char	*dot;
	size_t		 o = 0, len, n, i;
	int		 high;

	for (;;) {
		dot = strchr(in, '.');
		len = dot == NULL ? strlen(in) : (size_t)(dot - in);
		for (high = 0, i = 0; i < len; i++)
			if ((unsigned char)in[i] >= 0x80)
				high = 1;
		if (high) {
			if (label_to_ascii(in, len, out + o, outsz - o, &n) ==
			    -1)
				return -1;
		} else {
			if (o + len >= outsz)
				return -1;
			memcpy(out + o, in, len);
			n = len;
		}
		if (n > 63)
			return -1;
		o += n;
		if (dot == NULL)
			break;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = '.';
		in = dot + 1;
	}
	if (o > NAME_MAX_LEN)
		return -1;
	out[o] = '\0';
	return 0;
}

static int
has_high(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
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
	char			*line, *next, *end, *name, *extra;
	char			 ascii[NAME_MAX_LEN + 1];
	size_t			 lines = 0, high = 0, size, i;
	int			 kind, seen = 0;

	if (len > PSL_FILE_MAX) {
		snprintf(err, errsz, "list larger than %d bytes", PSL_FILE_MAX);
		return NULL;
	}
	/* Lines with UTF-8 get room for their rule's A-label form. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)data[i] >= 0x80 && !seen) {
			high++;
			seen = 1;
		}
		if (data[i] == '\n') {
			lines++;
			seen = 0;
		}
	}
	lines++;
	if (lines > PSL_RULES_MAX)
		lines = PSL_RULES_MAX;
	for (size = 16; size < 2 * lines; size *= 2)
		;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->text = malloc(len + 1 + high * sizeof(ascii))) == NULL ||
	    (l->table = calloc(size, sizeof(*l->table))) == NULL) {
		psl_free(l);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	l->mask = size - 1;
	memcpy(l->text, data, len);
	l->text[len] = '\0';
	extra = l->text + len + 1;
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
		if (has_high(name)) {
			if (name_to_ascii(name, ascii, sizeof(ascii)) == -1)
				continue;
			memcpy(extra, ascii, strlen(ascii) + 1);
			name = extra;
			extra += strlen(ascii) + 1;
		}
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
	char		 name[NAME_MAX_LEN + 2], ascii[NAME_MAX_LEN + 1];
	const char	*label[128];
	size_t		 len, n = 0, i, suffix = 0;

	if (has_high(domain)) {
		if (name_to_ascii(domain, ascii, sizeof(ascii)) == -1)
			return -1;
		domain = ascii;
	}
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
