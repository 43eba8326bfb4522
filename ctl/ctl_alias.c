/*
 * tsambactl alias: list, add and del forwarding.  An alias is a set of
 * (source, destination) rows; the source is an address or "@domain" (the
 * catch-all) of a hosted domain, destinations may be anywhere.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table_file.h"
#include "ctl.h"
#include "ctl_backend.h"

static int
alias_list(int argc, char *argv[])
{
	return table_list(TAB_ALIASES, 1, argc, argv);
}

struct pair {
	const char	*dest;
	int		 found;
};

static int
match_dest(void *arg, const char *key, const char *value)
{
	struct pair	*p = arg;
	char		 d[TABLE_KEY_MAX];

	if (table_address_key(value, d, sizeof(d)) == 0 &&
	    strcmp(d, p->dest) == 0) {
		p->found = 1;
		return 1;
	}
	return 0;
}

static int
alias_add(int argc, char *argv[])
{
	struct conf	*conf = ctl_conf();
	struct ctl_addr	 src, *dst = NULL;
	struct table	*t = NULL;
	struct pair	 p;
	int		 i, j, r, n = argc - 2, rv = -1;

	if (argc < 3)
		ctl_usage();
	if (name_source(argv[1], &src) == -1)
		return -1;
	if ((dst = calloc(n, sizeof(*dst))) == NULL) {
		ctl_warn("calloc");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (name_address(argv[i + 2], &dst[i]) == -1)
			goto done;
	/* An alias of a domain not hosted here would never be used. */
	if ((r = domain_hosted(conf, src.domain)) != 1) {
		if (r == 0)
			ctl_warnx("domain %s is not hosted", src.domain);
		goto done;
	}
	if ((t = table_open(conf, TAB_ALIASES, 1)) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(dst[i].key, dst[j].key) == 0)
				break;
		if (j < i)
			continue;
		p.dest = dst[i].key;
		p.found = 0;
		if (t->ops->rows(t, src.key, match_dest, &p) == -1)
			goto done;
		if (p.found) {
			ctl_warnx("alias %s -> %s already exists", src.key,
			    dst[i].key);
			goto done;
		}
		if (t->ops->add(t, src.key, dst[i].key) == -1)
			goto done;
	}
	if (table_commit(t) == 0)
		rv = 0;
 done:
	if (rv == -1 && t != NULL)
		table_rollback(t);
	table_close(t);
	free(dst);
	return rv;
}

static int
alias_del(int argc, char *argv[])
{
	struct ctl_addr	 src, dst;
	struct table	*t;
	int		 n, rv = -1;

	if (argc != 2 && argc != 3)
		ctl_usage();
	if (name_source(argv[1], &src) == -1 ||
	    (argc == 3 && name_address(argv[2], &dst) == -1))
		return -1;
	if ((t = table_open(ctl_conf(), TAB_ALIASES, 1)) == NULL)
		return -1;
	n = t->ops->del(t, src.key, argc == 3 ? dst.key : NULL);
	if (n == 0 && argc == 3)
		ctl_warnx("no alias %s -> %s", src.key, dst.key);
	else if (n == 0)
		ctl_warnx("no alias %s", src.key);
	else if (n > 0 && table_commit(t) == 0)
		rv = 0;
	if (rv == -1)
		table_rollback(t);
	table_close(t);
	return rv;
}

int
cmd_alias(int argc, char *argv[])
{
	static const struct ctl_subcmd	 subs[] = {
		{ "list", "alias list", alias_list },
		{ "add", "alias add", alias_add },
		{ "del", "alias del", alias_del },
		{ NULL, NULL, NULL }
	};

	return ctl_subcmd(argc, argv, subs);
}
