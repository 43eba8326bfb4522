/*
 * The line rules of the file tables, shared by the programs that read
 * or write them (see table_file.h).  They follow what tsamba-authd's file
 * backend accepts, so that a table tsambactl writes or checks is a table
 * authd loads.
 */

#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "quota_rule.h"
#include "table_file.h"

char *
table_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
table_line_ignored(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#' || *s == '\r' || *s == '\n';
}

int
table_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

int
table_addr_key(const struct mailaddr *a, char *key, size_t keysz)
{
	int	 n;

	n = snprintf(key, keysz, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= keysz)
		return -1;
	addr_lower(key);
	return 0;
}

int
table_domain_key(const char *s, char *key, size_t keysz)
{
	struct mailaddr	 a;
	char		 buf[ADDR_DOMAIN_MAX + 8];

	if (*s == '\0' || strchr(s, '@') != NULL ||
	    (size_t)snprintf(buf, sizeof(buf), "x@%s", s) >= sizeof(buf))
		return -1;
	if (addr_parse(buf, &a, ADDR_ALLOW_UTF8) == -1)
		return -1;
	if (strlcpy(key, a.domain, keysz) >= keysz)
		return -1;
	addr_lower(key);
	return 0;
}

int
table_address_key(const char *s, char *key, size_t keysz)
{
	struct mailaddr	 a;

	if (addr_parse(s, &a, ADDR_ALLOW_UTF8) == -1 || addr_is_null(&a))
		return -1;
	return table_addr_key(&a, key, keysz);
}

int
table_source_key(const char *s, char *key, size_t keysz)
{
	if (*s == '@') {
		if (keysz < 2 ||
		    table_domain_key(s + 1, key + 1, keysz - 1) == -1)
			return -1;
		key[0] = '@';
		return 0;
	}
	return table_address_key(s, key, keysz);
}

/* c outside double quotes (a quoted local part may hold it), or NULL. */
static char *
table_find_unquoted(char *s, int c)
{
	int	 quoted = 0;

	for (; *s != '\0'; s++) {
		if (quoted && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == c)
			return s;
	}
	return NULL;
}

size_t
table_user_split(char *line, char *field[TABLE_USER_FIELDS])
{
	char	*s = line, *c;
	size_t	 i;

	for (i = 0; i < TABLE_USER_FIELDS; i++)
		field[i] = NULL;
	for (i = 0; i < TABLE_USER_FIELDS && s != NULL; i++) {
		field[i] = s;
		c = i + 1 < TABLE_USER_FIELDS ? strchr(s, ':') : NULL;
		if (c != NULL)
			*c++ = '\0';
		s = c;
	}
	return i;
}

char *
table_alias_split(char *line)
{
	char	*colon;

	if ((colon = table_find_unquoted(line, ':')) == NULL)
		return NULL;
	*colon = '\0';
	return colon + 1;
}

char *
table_alias_next(char **list)
{
	char	*s, *c, *item;

	while ((s = *list) != NULL) {
		if ((c = table_find_unquoted(s, ',')) != NULL)
			*c++ = '\0';
		*list = c;
		item = table_trim(s);
		if (*item != '\0')
			return item;
	}
	return NULL;
}

/* uid and gid: empty, or 1 .. UINT_MAX - 1 (0 would deliver as root). */
static int
id_valid(const char *s)
{
	const char	*errstr;

	if (*s == '\0')
		return 1;
	(void)strtonum(s, 1, UINT_MAX - 1, &errstr);
	return errstr == NULL;
}

/* A home inside the mail root without "." or ".." components. */
static int
home_inside(const char *home, const char *mailroot)
{
	size_t		 rl;
	const char	*s, *c;

	rl = strlen(mailroot);
	while (rl > 0 && mailroot[rl - 1] == '/')
		rl--;
	if (strncmp(home, mailroot, rl) != 0 || home[rl] != '/')
		return 0;
	for (s = home + rl; *s != '\0'; s = c) {
		while (*s == '/')
			s++;
		for (c = s; *c != '\0' && *c != '/'; c++)
			;
		if ((c - s == 1 && s[0] == '.') ||
		    (c - s == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
	}
	return 1;
}

static int
check_user(char *line, const char *mailroot, char *err, size_t errsz)
{
	char	*f[TABLE_USER_FIELDS];
	char	 key[TABLE_KEY_MAX];
	uint64_t quota;

	table_user_split(line, f);
	if (table_address_key(table_trim(f[0]), key, sizeof(key)) == -1) {
		snprintf(err, errsz, "invalid address \"%s\"", f[0]);
		return -1;
	}
	if (f[2] != NULL && !id_valid(f[2])) {
		snprintf(err, errsz, "invalid uid \"%s\"", f[2]);
		return -1;
	}
	if (f[3] != NULL && !id_valid(f[3])) {
		snprintf(err, errsz, "invalid gid \"%s\"", f[3]);
		return -1;
	}
	if (f[7] != NULL && quota_rule_extra(f[7], &quota) == -1) {
		snprintf(err, errsz, "invalid quota_rule in \"%s\"", f[7]);
		return -1;
	}
	if (f[5] != NULL && *f[5] != '\0') {
		if (*f[5] != '/') {
			snprintf(err, errsz, "home \"%s\" is not absolute",
			    f[5]);
			return -1;
		}
		if (mailroot != NULL && !home_inside(f[5], mailroot)) {
			snprintf(err, errsz, "home %s is not inside the mail "
			    "root %s; mail for %s is deferred", f[5],
			    mailroot, key);
			return 1;
		}
	}
	return 0;
}

static int
check_alias(char *line, char *err, size_t errsz)
{
	char	 key[TABLE_KEY_MAX];
	char	*list, *src, *d;
	size_t	 n = 0;

	if ((list = table_alias_split(line)) == NULL) {
		snprintf(err, errsz, "missing ':' after the alias");
		return -1;
	}
	src = table_trim(line);
	if (table_source_key(src, key, sizeof(key)) == -1) {
		snprintf(err, errsz, "invalid alias \"%s\"", src);
		return -1;
	}
	while ((d = table_alias_next(&list)) != NULL) {
		if (table_address_key(d, key, sizeof(key)) == -1) {
			snprintf(err, errsz, "invalid destination \"%s\"", d);
			return -1;
		}
		n++;
	}
	/* authd adds up lines of one source; each needs a destination. */
	if (n == 0) {
		snprintf(err, errsz, "alias %s has no destination", src);
		return -1;
	}
	return 0;
}

int
table_line_check(enum table_kind kind, const char *line,
    const char *mailroot, char *err, size_t errsz)
{
	char	 buf[TABLE_LINE_MAX + 1], key[TABLE_KEY_MAX];

	*err = '\0';
	if (strlcpy(buf, line, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errsz, "line longer than %d bytes",
		    TABLE_LINE_MAX);
		return -1;
	}
	if (table_has_control(buf)) {
		snprintf(err, errsz, "control character in line");
		return -1;
	}
	switch (kind) {
	case TABLE_KIND_DOMAINS:
		if (table_domain_key(buf, key, sizeof(key)) == -1) {
			snprintf(err, errsz, "invalid domain \"%s\"", buf);
			return -1;
		}
		return 0;
	case TABLE_KIND_USERS:
		return check_user(buf, mailroot, err, errsz);
	case TABLE_KIND_ALIASES:
		return check_alias(buf, err, errsz);
	}
	snprintf(err, errsz, "unknown table kind");
	return -1;
}
