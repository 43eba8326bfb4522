/*
 * The line rules of the file backend's tables (domains, users, aliases),
 * as tsamba-authd(8) reads them, for programs that read or edit them:
 * tsambactl writes and checks them.  Keys are what lookups compare:
 * "local@domain" or "@domain", lowercased, quotes of the local part
 * removed.
 *
 *   domains:  example.org
 *   users:    address:{SCHEME}hash:uid:gid:gecos:home:shell:extra
 *   aliases:  source: dest1, dest2       source "@domain" is a catch-all
 *
 * Empty lines and lines starting with '#' (after blanks) are ignored.
 */

#ifndef TSAMBA_TABLE_FILE_H
#define TSAMBA_TABLE_FILE_H

#include <stddef.h>

#include "addr.h"

#define TABLE_LINE_MAX		4096
#define TABLE_KEY_MAX		(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)
#define TABLE_USER_FIELDS	8

enum table_kind {
	TABLE_KIND_DOMAINS,
	TABLE_KIND_USERS,
	TABLE_KIND_ALIASES,
};

/* Blanks and line ends cut off both sides, in place. */
char	*table_trim(char *);
/* 1 for an empty or comment line (trimmed). */
int	 table_line_ignored(const char *);
/* 1 if s holds a control character other than tab. */
int	 table_has_control(const char *);

/* The key of a parsed address; -1 if it does not fit. */
int	 table_addr_key(const struct mailaddr *, char *key, size_t keysz);
/* Keys; -1 if s is not a valid domain, address or alias source. */
int	 table_domain_key(const char *s, char *key, size_t keysz);
int	 table_address_key(const char *s, char *key, size_t keysz);
int	 table_source_key(const char *s, char *key, size_t keysz);

/*
 * Split a users line at its colons, in place, into at most
 * TABLE_USER_FIELDS fields (the last keeps any further colons); the
 * number of fields found.
 */
size_t	 table_user_split(char *line, char *field[TABLE_USER_FIELDS]);
/* Split an aliases line at the ':': the destination list, or NULL. */
char	*table_alias_split(char *line);
/* The next destination of a list (comma separated), trimmed; NULL at end. */
char	*table_alias_next(char **list);

/*
 * Check one trimmed, not ignored line with every rule authd applies;
 * home paths are checked against mailroot (NULL: not checked).  0 when
 * fine; 1 for what authd only warns about (a home outside the mail
 * root); -1 for an error that makes authd refuse the whole table.  The
 * reason is in err.  The line is not modified.
 */
int	 table_line_check(enum table_kind, const char *line,
	    const char *mailroot, char *err, size_t errsz);

#endif
