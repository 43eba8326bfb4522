/*
 * A mailbox quota as the users tables give it: the quota column of a
 * MariaDB users query, or a Dovecot quota_rule in the extra fields of a
 * passwd-file line.  Only the limit of the whole mailbox ("*") in bytes
 * is read; tsamba keeps one quota root, as Dovecot's Maildir++ quota.
 */

#ifndef TSAMBA_QUOTA_RULE_H
#define TSAMBA_QUOTA_RULE_H

#include <stdint.h>

/* Largest limit accepted: 1 PiB, far beyond any one mailbox. */
#define QUOTA_RULE_MAX		((uint64_t)1 << 50)

/*
 * "<n>[unit]" (bytes) or "*:bytes=<n>[unit]" or "*:storage=<n>[unit]"
 * (kibibytes without a unit), units b k M G T (any case); 0 is
 * unlimited.  -1 for anything else.
 */
int	quota_rule_parse(const char *s, uint64_t *bytes);

/*
 * The quota in the extra fields of a passwd-file line (blank separated
 * "key=value" words): "userdb_quota_rule=" or "quota_rule=".  1 and the
 * bytes when one is there, 0 when none, -1 when it does not parse.
 */
int	quota_rule_extra(const char *extra, uint64_t *bytes);

#endif
