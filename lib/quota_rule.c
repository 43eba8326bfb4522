/*
 * The mailbox quota of a users table entry (quota_rule.h), in the
 * syntax a migrating administrator already has: Postfixadmin's quota
 * column (bytes) and Dovecot's quota_rule ("*:storage=1G").
 */

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "quota_rule.h"

#define KIB	((uint64_t)1024)

/* "<n>[unit]" up to end; mult is the size of one unit-less n. */
static int
parse_size(const char *p, const char *end, uint64_t mult, uint64_t *out)
{
	uint64_t	 v = 0;

	if (p == end || !isdigit((unsigned char)*p))
		return -1;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > QUOTA_RULE_MAX)
			return -1;
	}
	if (p < end) {
		if (end - p != 1)
			return -1;
		switch (tolower((unsigned char)*p)) {
		case 'b':
			mult = 1;
			break;
		case 'k':
			mult = KIB;
			break;
		case 'm':
			mult = KIB * KIB;
			break;
		case 'g':
			mult = KIB * KIB * KIB;
			break;
		case 't':
			mult = KIB * KIB * KIB * KIB;
			break;
		default:
			return -1;
		}
	}
	if (v > QUOTA_RULE_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
quota_rule_parse(const char *s, uint64_t *bytes)
{
	const char	*end = s + strlen(s);

	if (strncmp(s, "*:bytes=", 8) == 0)
		return parse_size(s + 8, end, 1, bytes);
	if (strncmp(s, "*:storage=", 10) == 0)
		return parse_size(s + 10, end, KIB, bytes);
	return parse_size(s, end, 1, bytes);
}

int
quota_rule_extra(const char *extra, uint64_t *bytes)
{
	static const char *const keys[] = { "userdb_quota_rule=",
	    "quota_rule=" };
	char		 word[128];
	const char	*p = extra;
	size_t		 len, i;

	while (*p != '\0') {
		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (len <= strlen(keys[i]) ||
			    strncmp(p, keys[i], strlen(keys[i])) != 0)
				continue;
			len -= strlen(keys[i]);
			if (len >= sizeof(word))
				return -1;
			memcpy(word, p + strlen(keys[i]), len);
			word[len] = '\0';
			return quota_rule_parse(word, bytes) == -1 ? -1 : 1;
		}
		p += len;
	}
	return 0;
}
