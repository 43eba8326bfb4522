/*
 * The quota of a users table entry (lib/quota_rule.c): plain bytes as
 * Postfixadmin stores them, Dovecot's "*:storage=" (KiB without a unit)
 * and "*:bytes=" rules, and the extra fields of a passwd-file line.
 */

#include <stdint.h>
#include <string.h>

#include "quota_rule.h"
#include "unit.h"

static void
test_parse(void)
{
	uint64_t	 b = 1;

	CHECK(quota_rule_parse("0", &b) == 0 && b == 0);
	CHECK(quota_rule_parse("1048576", &b) == 0 && b == 1048576);
	CHECK(quota_rule_parse("10M", &b) == 0 && b == 10485760);
	CHECK(quota_rule_parse("*:bytes=512", &b) == 0 && b == 512);
	CHECK(quota_rule_parse("*:bytes=2k", &b) == 0 && b == 2048);
	CHECK(quota_rule_parse("*:storage=100", &b) == 0 && b == 102400);
	CHECK(quota_rule_parse("*:storage=1G", &b) == 0 &&
	    b == 1024ULL * 1024 * 1024);
	CHECK(quota_rule_parse("*:storage=2T", &b) == 0 &&
	    b == 2ULL << 40);
	CHECK(quota_rule_parse("*:storage=100b", &b) == 0 && b == 100);
	CHECK(quota_rule_parse("*:storage=0", &b) == 0 && b == 0);
	/* At the ceiling and past it. */
	CHECK(quota_rule_parse("1048576G", &b) == 0 && b == QUOTA_RULE_MAX);
	CHECK(quota_rule_parse("1048577G", &b) == -1);
	CHECK(quota_rule_parse("99999999999999999999999", &b) == -1);
	/* What it does not read. */
	CHECK(quota_rule_parse("", &b) == -1);
	CHECK(quota_rule_parse("-1", &b) == -1);
	CHECK(quota_rule_parse("10Q", &b) == -1);
	CHECK(quota_rule_parse("10MB", &b) == -1);
	CHECK(quota_rule_parse("1.5G", &b) == -1);
	CHECK(quota_rule_parse("*:storage=", &b) == -1);
	CHECK(quota_rule_parse("*:messages=100", &b) == -1);
	CHECK(quota_rule_parse("Trash:storage=10M", &b) == -1);
	CHECK(quota_rule_parse("*:storage=+10%", &b) == -1);
	CHECK(quota_rule_parse(" 10", &b) == -1);
}

static void
test_extra(void)
{
	uint64_t	 b = 7;

	CHECK(quota_rule_extra("", &b) == 0 && b == 7);
	CHECK(quota_rule_extra("userdb_mail=maildir:~/M", &b) == 0);
	CHECK(quota_rule_extra("userdb_quota_rule=*:storage=1M", &b) == 1 &&
	    b == 1048576);
	CHECK(quota_rule_extra("x=1  quota_rule=*:bytes=300\tother=2", &b) ==
	    1 && b == 300);
	CHECK(quota_rule_extra("userdb_quota_rule=*:storage=lots", &b) == -1);
	/* A lookalike key is not the rule; an empty one is none. */
	CHECK(quota_rule_extra("xquota_rule=*:bytes=1", &b) == 0);
	CHECK(quota_rule_extra("quota_rule=", &b) == 0);
	/* The first rule counts, as a passwd-file has one. */
	CHECK(quota_rule_extra("quota_rule=5 quota_rule=6", &b) == 1 &&
	    b == 5);
}

int
main(void)
{
	test_parse();
	test_extra();
	return unit_done("test_quota_rule");
}
