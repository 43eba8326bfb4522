/*
 * The names an administrator types (addresses, alias sources, domains)
 * turned into the keys the tables compare, with the same rules authd
 * applies (table_file.h), and the question every command asks first:
 * is this domain hosted here?
 */

#include <stdio.h>
#include <string.h>

#include "table_file.h"
#include "ctl.h"
#include "ctl_backend.h"

static int
split_key(struct ctl_addr *a)
{
	char	*at;

	/* A quoted local part may hold an '@': the domain follows the last. */
	if ((at = strrchr(a->key, '@')) == NULL)
		return -1;
	strlcpy(a->domain, at + 1, sizeof(a->domain));
	memcpy(a->local, a->key, at - a->key);
	a->local[at - a->key] = '\0';
	return 0;
}

int
name_address(const char *s, struct ctl_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (table_has_control(s) ||
	    table_address_key(s, a->key, sizeof(a->key)) == -1 ||
	    split_key(a) == -1) {
		ctl_warnx("invalid address \"%s\"", s);
		return -1;
	}
	return 0;
}

int
name_source(const char *s, struct ctl_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (table_has_control(s) ||
	    table_source_key(s, a->key, sizeof(a->key)) == -1 ||
	    split_key(a) == -1) {
		ctl_warnx("invalid alias source \"%s\" (an address or "
		    "@domain)", s);
		return -1;
	}
	return 0;
}

int
name_domain(const char *s, char *key, size_t keysz)
{
	if (table_has_control(s) || table_domain_key(s, key, keysz) == -1) {
		ctl_warnx("invalid domain \"%s\"", s);
		return -1;
	}
	return 0;
}

int
domain_hosted(const struct conf *conf, const char *domain)
{
	struct table	*t;
	int		 r;

	if ((t = table_open(conf, TAB_DOMAINS, 0)) == NULL)
		return -1;
	r = table_has(t, domain);
	table_close(t);
	return r;
}
