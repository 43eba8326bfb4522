/*
 * test_passwd: lib/passwd.c against hashes made by other tools, round
 * trips through passwd_hash(), generated passwords and the policy.
 */

#include <stdio.h>
#include <string.h>

#include "passwd.h"
#include "unit.h"

#define PW	"Tsamba-Test-pw9"

/*
 * Known vectors for PW, each made once by an independent tool:
 *   openssl passwd -6 -salt saltsaltsaltsalt PW   (OpenSSL 3.0)
 *   openssl passwd -5 -salt saltsaltsaltsalt PW
 *   mkpasswd -m sha512crypt -R 10000 -S abcdefgh PW   (whois 5.5.17)
 *   mkpasswd -m sha256crypt -R 6000 -S abcdefgh PW
 *   mkpasswd -m bcrypt -R 5 PW; mkpasswd -m bcrypt-a -R 5 PW
 *   mkpasswd -m yescrypt PW; mkpasswd -m yescrypt -R 3 PW
 *   python3 -c "crypt.crypt(PW, '$2b$04$abcdefghijklmnopqrstuu')"
 *   doveadm pw -s SCHEME -p PW   (Dovecot 2.3, Debian 12)
 *   echo -n PW | argon2 tsambasaltsalt -id -t 2 -m 10 -p 1 -e
 *   echo -n PW | argon2 tsambasaltsalt -id -t 1 -m 12 -p 2 -e
 *     (argon2 20171227, Debian 12)
 */
static const char *good[] = {
	"{SHA512-CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe.bdiuK3bv1XXS7nYB6P/yBdT"
	    "heLX5wPxTl8IxaYc6ts.Zw8ZhbkMHcKmuMcfgj7977flfAxlfwvP0",
	"{SHA256-CRYPT}$5$saltsaltsaltsalt$adr6Gskzb9..agAIyq/uO5S4O4esuvYM5"
	    ".xWjHASSjC",
	"{SHA512-CRYPT}$6$rounds=10000$abcdefgh$E4pO6KcYvjWzNC8V.8U8qGrKeZn"
	    "EJ8tRLIpe.J.7ZOZphE0E61uZeq4h5i8Iot1ign/x2gTumpPbNEudALgrZ0",
	"{sha256-crypt}$5$rounds=6000$abcdefgh$QgmpQo3YEer1atYdoMdLFPcukObX7"
	    "652.xIK/Wl4/v9",
	"{BLF-CRYPT}$2b$05$.uhH46LCamB1ZNP6TNj6lusvf9W4k1I8x2HwlrKoU3p90nDJa"
	    "euTm",
	"{BLF-CRYPT}$2a$05$XjD2MzPRsbVUph4DnzXkXu5jJrUidZy7wA6dByxgwgX2Q6liS"
	    "zF4i",
	"{BLF-CRYPT}$2b$04$abcdefghijklmnopqrstuuhcznklPD4XE5R4/NuYvofHsk2Nc"
	    "gu7C",
	"{CRYPT}$y$j9T$3HIg74QoMHaitcrZqkLHC.$g2oU20GKs4o4RiQ4uOl3smXsqG/UZp"
	    "aHSXjAAggnbXC",
	"$y$j7T$pLrYuyJF6UV4eosL4q8pN/$oGoulvd/MAA.6sWUxlz07UdVcddespzHyPj4V"
	    "w5JqtA",
	"{SHA512-CRYPT}$6$YIyRli0Gw1PEpZC8$mti4dHdRiPPjghYT2Xl4aOaVDm2VBCamy"
	    "QRPMiqMh3ydECoeTtjraDVsLEP9I4xfoHVTuR0RWljFu5UsfzPzT.",
	"{SHA256-CRYPT}$5$QhiMFEXFrcQZt3pd$6H.WWftj3zUuH59t31Vr2Z0mWHsEKcOXO"
	    "O28SeqQrLC",
	"{BLF-CRYPT}$2y$05$aNu00kFQH9wguor7GqBxO.HziLIbBz1n4QyxuYF7q5ETUlOno"
	    "wvuC",
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$yTuOPzUVdXcacJ5Fxe6wxg$Trt"
	    "cVhBNPyRFLrX4HBEpsdYxQyJXgDDSqJ1BG3XyvXM",
	"{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36UT"
	    "igspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",
	"{Argon2id}$argon2id$v=19$m=4096,t=1,p=2$dHNhbWJhc2FsdHNhbHQ$c9vhd8o"
	    "U8v1cAgib4HFEew9ES+NheyT+gCPHLYXkUFM",
	"$argon2id$v=19$m=1024,t=2,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36UTigspF+qcGY"
	    "UbMPysOBrH8Gi0snEl93wNBfWE",
	"{CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe.bdiuK3bv1XXS7nYB6P/yBdTheLX5wP"
	    "xTl8IxaYc6ts.Zw8ZhbkMHcKmuMcfgj7977flfAxlfwvP0",
	"$2b$04$abcdefghijklmnopqrstuuhcznklPD4XE5R4/NuYvofHsk2Ncgu7C",
	"{PLAIN}" PW,
	"{plain}" PW,
};

/* Unknown, unsupported or malformed: never a match, never a crash. */
static const char *bad[] = {
	"",
	"{",
	"{}",
	"{SHA512-CRYPT",
	"{NOSUCH}$6$saltsaltsaltsalt$x",
	"{MD5-CRYPT}$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/",
	"$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/",	/* openssl passwd -1 */
	"abJnggxhB/yWI",			/* DES crypt */
	"*",
	"!",
	"{SHA512-CRYPT}",
	"{SHA512-CRYPT}$5$saltsaltsaltsalt$adr6Gskzb9..agAIyq/uO5S4O4esuvYM5"
	    ".xWjHASSjC",			/* tag and hash disagree */
	"{SHA512-CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe",	/* truncated */
	"{SHA512-CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe.bdiuK3bv1XXS7nYB6P/yBdT"
	    "heLX5wPxTl8IxaYc6ts.Zw8ZhbkMHcKmuMcfgj7977flfAxlfwvP0x",
	"{SHA512-CRYPT}$6$salt salt$KrS3xGMfe",	/* bad character */
	"{SHA512-CRYPT}$6$rounds=999999999$abcdefgh$x",	/* over the cap */
	"{SHA512-CRYPT}$6$rounds=$abcdefgh$x",
	"{SHA512-CRYPT}$6$rounds=99999999999999999999$abcdefgh$x",
	"{BLF-CRYPT}$2y$31$abcdefghijklmnopqrstuuhcznklPD4XE5R4/"
	    "NuYvofHsk2Ncgu7C",
	"{BLF-CRYPT}$2y$03$abcdefghijklmnopqrstuuhcznklPD4XE5R4/"
	    "NuYvofHsk2Ncgu7C",
	"{BLF-CRYPT}$2x$04$abcdefghijklmnopqrstuuhcznklPD4XE5R4/"
	    "NuYvofHsk2Ncgu7C",
	"{BLF-CRYPT}$2y$4$abcdefghijklmnopqrstuu",
	"{BLF-CRYPT}$2y$04$short",
	"$y$jZT$3HIg74QoMHaitcrZqkLHC.$g2oU20GKs4o4RiQ4uOl3smXsqG/UZpaHSXjAAg",
	"$y$$$",
	"$7$CU..../....abcdefgh$x",		/* scrypt: not offered */
	"{ARGON2ID}$argon2i$v=19$m=1024,t=1,p=1$dHNhbWJhc2FsdHNhbHQ$rwJ3Kmte"
	    "0iLasqtBeIcCMl1ij0uYt8N9fRKogvy98rc",
	"{ARGON2ID}$argon2id$v=16$m=1024,t=2,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36UT"
	    "igspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",
	"{ARGON2ID}$argon2id$v=19$m=4194304,t=1,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd3"
	    "6UTigspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",	/* 4 GiB */
	"{ARGON2ID}$argon2id$v=19$m=1024,t=100,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36"
	    "UTigspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",
	"{ARGON2ID}$argon2id$v=19$m=1048576,t=16,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd"
	    "36UTigspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",	/* work cap */
	"{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=99$dHNhbWJhc2FsdHNhbHQ$9Xd36U"
	    "TigspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",
	"{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$dHNhbWJhc2FsdHNhbHQ$",
	"{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$!!!$9Xd36UTigspF+qcGYUbMPys"
	    "OBrH8Gi0snEl93wNBfWE",
	"{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1",
	"{ARGON2ID}$argon2id$v=19$m=1,t=1,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36UTigs"
	    "pF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",	/* m under 8 * p */
	"{ARGON2ID}$6$saltsaltsaltsalt$KrS3xGMfe",
	"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
};

static void
test_vectors(void)
{
	size_t	i;
	char	wrong[] = PW;

	wrong[0] = 't';
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECKF(passwd_verify(good[i], PW) == PASSWD_OK, "%s",
		    good[i]);
		CHECKF(passwd_verify(good[i], wrong) == PASSWD_MISMATCH,
		    "%s", good[i]);
		CHECKF(passwd_verify(good[i], "") == PASSWD_MISMATCH, "%s",
		    good[i]);
		CHECKF(passwd_verify(good[i], PW "x") == PASSWD_MISMATCH,
		    "%s", good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(passwd_verify(bad[i], PW) == PASSWD_BADSCHEME, "%s",
		    bad[i]);
		CHECKF(passwd_verify(bad[i], "x") == PASSWD_BADSCHEME, "%s",
		    bad[i]);
	}
	CHECK(passwd_verify(NULL, PW) == PASSWD_BADSCHEME);
	CHECK(passwd_verify(good[0], NULL) == PASSWD_MISMATCH);
}

static void
test_odd_passwords(void)
{
	char	big[PASSWD_MAX + 2], stored[PASSWD_MAX + 16];

	/* openssl passwd -6 -salt utf8saltutf8salt 'Pässwort-Ünïcode-7' */
	CHECK(passwd_verify("{SHA512-CRYPT}$6$utf8saltutf8salt$n5hz1E3a..Sv"
	    "qQ7uFbDvBBTQwZ5kGB5gui2uGhQwy0YDz4fmb05RN/5ChmcQ3w8a1KewXTkAfRkX"
	    "mI6Xi.UCO1", "P\xc3\xa4sswort-\xc3\x9cn\xc3\xaf" "code-7") ==
	    PASSWD_OK);

	/* openssl passwd -6 -salt longsalt "$(printf 'a%.0s' $(seq 200))B9-" */
	memset(big, 'a', 200);
	memcpy(big + 200, "B9-", 4);
	CHECK(passwd_verify("$6$longsalt$5OF13pAIQlHoHTapBCHS/3sIsY2m7pao/"
	    "jt9II9R4FtIjHK8x7A0wwDzkQ/lTU/AUhvrTpdGKHO2abdjzUANK1", big) ==
	    PASSWD_OK);

	/* Over PASSWD_MAX: refused before hashing, even for {PLAIN}. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(stored, sizeof(stored), "{PLAIN}%s", big);
	CHECK(passwd_verify(stored, big) == PASSWD_MISMATCH);
	big[PASSWD_MAX] = '\0';
	snprintf(stored, sizeof(stored), "{PLAIN}%s", big);
	CHECK(passwd_verify(stored, big) == PASSWD_OK);
	/* Longer than crypt(3) takes (511 bytes): a mismatch. */
	CHECK(passwd_verify(good[0], big) == PASSWD_MISMATCH);

	/* A counted password with a NUL inside never matches. */
	CHECK(passwd_verifyn("{PLAIN}" PW, PW, strlen(PW)) == PASSWD_OK);
	CHECK(passwd_verifyn("{PLAIN}Tsamba", "Tsamba\0-Test-pw9",
	    16) == PASSWD_MISMATCH);
	CHECK(passwd_verifyn(good[0], PW "\0", strlen(PW) + 1) ==
	    PASSWD_MISMATCH);
	CHECK(passwd_verifyn(good[0], PW "junk", strlen(PW)) == PASSWD_OK);
	CHECK(passwd_verifyn(good[0], PW, PASSWD_MAX + 1) ==
	    PASSWD_MISMATCH);
}

static void
test_roundtrip(void)
{
	static const struct {
		const char	*scheme;
		const char	*prefix;
	} s[] = {
		{ "SHA512-CRYPT",	"{SHA512-CRYPT}$6$" },
		{ "sha256-crypt",	"{SHA256-CRYPT}$5$" },
		{ "BLF-CRYPT",		"{BLF-CRYPT}$2y$10$" },
		{ "ARGON2ID",		"{ARGON2ID}$argon2id$v=19$m=65536,t=3,"
					"p=1$" },
		{ NULL,			"{SHA512-CRYPT}$6$" },
	};
	char	h1[PASSWD_HASH_MAX], h2[PASSWD_HASH_MAX], tiny[20];
	size_t	i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		CHECKF(passwd_hash(s[i].scheme, PW, h1, sizeof(h1)) == 0,
		    "%s", s[i].prefix);
		CHECKF(passwd_hash(s[i].scheme, PW, h2, sizeof(h2)) == 0,
		    "%s", s[i].prefix);
		CHECKF(strncmp(h1, s[i].prefix, strlen(s[i].prefix)) == 0,
		    "%s", h1);
		CHECKF(strcmp(h1, h2) != 0, "same salt twice: %s", h1);
		CHECKF(passwd_verify(h1, PW) == PASSWD_OK, "%s", h1);
		CHECKF(passwd_verify(h1, PW "!") == PASSWD_MISMATCH, "%s",
		    h1);
	}
	/* Like doveadm: 16 salt characters, default rounds. */
	CHECK(passwd_hash("SHA512-CRYPT", PW, h1, sizeof(h1)) == 0);
	CHECK(strlen(h1) == strlen(good[0]));
	CHECK(strchr(h1 + 17, '$') == h1 + 17 + 16);

	CHECK(passwd_hash("MD5-CRYPT", PW, h1, sizeof(h1)) == -1);
	CHECK(passwd_hash("PLAIN", PW, h1, sizeof(h1)) == -1);
	CHECK(passwd_hash("CRYPT", PW, h1, sizeof(h1)) == -1);
	CHECK(passwd_hash("SHA512-CRYPT", PW, tiny, sizeof(tiny)) == -1);
	CHECK(tiny[0] == '\0');
	CHECK(passwd_hash("ARGON2ID", PW, tiny, sizeof(tiny)) == -1);
	CHECK(passwd_hash("SHA512-CRYPT", NULL, h1, sizeof(h1)) == -1);
}

static void
test_generate(void)
{
	static char	pw[1000][33];
	char		small[16];
	const char	*reason;
	size_t		i, j;
	int		dups = 0, odd = 0;

	for (i = 0; i < 1000; i++) {
		CHECK(passwd_generate(pw[i], sizeof(pw[i]),
		    16 + i % 17) == 0);
		CHECK(strlen(pw[i]) == 16 + i % 17);
		if ((reason = passwd_policy_check(pw[i])) != NULL)
			CHECKF(0, "%s: %s", pw[i], reason);
		if (strpbrk(pw[i], "IOlo01 '\"\\$`!#%&*?/:;<>@[]{}|~") != NULL)
			odd++;
	}
	for (i = 0; i < 1000; i++)
		for (j = i + 1; j < 1000; j++)
			if (strcmp(pw[i], pw[j]) == 0)
				dups++;
	CHECK(dups == 0);
	CHECK(odd == 0);
	CHECK(passwd_generate(small, sizeof(small), 15) == -1);
	CHECK(passwd_generate(small, sizeof(small), 16) == -1);
	CHECK(passwd_generate(pw[0], sizeof(pw[0]), 16) == 0);
	CHECK(passwd_verify("{PLAIN}x", pw[0]) == PASSWD_MISMATCH);
}

static void
test_policy(void)
{
	char	big[PASSWD_MAX + 2];

	CHECK(passwd_policy_check("Abcdefgh-1234567") == NULL);
	CHECK(passwd_policy_check("Ab cdefgh 1234567") == NULL);
	CHECK(passwd_policy_check("Abcdefgh\xc3\xa9""1234567") == NULL);
	CHECK(strcmp(passwd_policy_check("Abcdefg-1234567"),
	    "shorter than 16 characters") == 0);
	/* 16 bytes but 15 characters. */
	CHECK(strcmp(passwd_policy_check("Abcdefg\xc3\xa9""1234567"),
	    "shorter than 16 characters") == 0);
	CHECK(strcmp(passwd_policy_check("abcdefgh-1234567"),
	    "no upper-case letter") == 0);
	CHECK(strcmp(passwd_policy_check("ABCDEFGH-1234567"),
	    "no lower-case letter") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-abcdefg"),
	    "no digit") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh01234567"),
	    "no special character") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-123456\t7"),
	    "contains a control character") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-123456\x7f"),
	    "contains a control character") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-123456\xc2\x85"),
	    "contains a control character") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-1234567\xff"),
	    "not valid UTF-8") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-1234567\xc3"),
	    "not valid UTF-8") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-1234567\xc0\xaf"),
	    "not valid UTF-8") == 0);
	CHECK(strcmp(passwd_policy_check("Abcdefgh-1234567\xed\xa0\x80"),
	    "not valid UTF-8") == 0);
	CHECK(strcmp(passwd_policy_check(""),
	    "shorter than 16 characters") == 0);
	CHECK(passwd_policy_check(NULL) != NULL);
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "A1-", 3);
	big[sizeof(big) - 1] = '\0';
	CHECK(strcmp(passwd_policy_check(big), "longer than 1024 bytes") ==
	    0);
	big[PASSWD_MAX] = '\0';
	CHECK(passwd_policy_check(big) == NULL);
}

int
main(void)
{
	test_vectors();
	test_odd_passwords();
	test_roundtrip();
	test_generate();
	test_policy();
	return unit_done("passwd");
}
