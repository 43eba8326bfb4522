/*
 * The Public Suffix List (https://publicsuffix.org/list/): loaded once
 * from the file an admin can update (Debian's publicsuffix package by
 * default), then asked for the organisational domain of a name, as
 * DMARC defines it (RFC 7489 3.2).  Bounded: the file, the rule count
 * and each rule have a maximum size; nothing grows after loading.
 */

#ifndef TSAMBA_PSL_H
#define TSAMBA_PSL_H

#include <stddef.h>

#define PSL_PATH_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"
#define PSL_FILE_MAX	(4 * 1024 * 1024)
#define PSL_RULES_MAX	65536

struct psl;

/* NULL with the reason in err (the file unreadable, too large, ...). */
struct psl *psl_load(const char *path, char *err, size_t errsz);
/* The same from text in memory. */
struct psl *psl_parse(const char *, size_t, char *err, size_t errsz);
void	psl_free(struct psl *);
size_t	psl_count(const struct psl *);

/*
 * The organisational domain of domain, lowercased, into out: 0, 1 if
 * the domain is itself a public suffix (out is then the domain), -1 if
 * the domain is not a domain name or does not fit.  A domain in UTF-8
 * is answered in A-labels ("xn--...").  A NULL list means the default
 * rule only: the last two labels.
 */
int	psl_org_domain(const struct psl *, const char *domain, char *out,
	    size_t outsz);

#endif
