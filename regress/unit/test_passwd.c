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

/*
 * Every scheme Dovecot 2.3 verifies that tsamba reads, each made once by
 * `doveadm pw -s SCHEME -p PW` (dovecot-core 2.3.19.1, Debian 12), the
 * encodings with SCHEME.HEX / SCHEME.B64; the last five by hand: {MD5}
 * over a PLAIN-MD5 hash, DES under {CRYPT} and bare, `openssl passwd -1
 * -salt abcdefgh PW` bare, and a hex digest in capitals under a
 * lower-case tag.  regress/integration/test_authd.py asks doveadm anew
 * at test time when it is installed.
 */
static const char *dovecot[] = {
	"{SSHA512}Gk6p6Id2Drz/p58LAQS6R2NImRFS9OZCsDC+ngEr8e6hE0ooHN0kAEvCe025"
	    "MH8gQvMJuCJlizDqFgxolfHJO/RYpRQ=",
	"{SSHA256}M3Gmh0zC6t8tSIwXFGSnmPUfXREg69Ab+OxsbTXHf9K9V2Sx",
	"{SSHA}LfO/u+L3vOLPEA+q3aVmmnG5IUk7Ad0O",
	"{SMD5}rt0B31UTmTXG9gv5OdXhnRvYEyQ=",
	"{SHA512}LRyYAeQF+HVknIKBfg6K2+zOV8p5B/g7aI3yH6XbvqpsMDKhUCDLGXXw1Unvn"
	    "yyRZK/PRq1/om6UXvd43z9ZAg==",
	"{SHA256}MyBwOqptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs=",
	"{SHA}BJJsfdHC+Olp5l8wr366L3YHnNw=",
	"{SHA1}BJJsfdHC+Olp5l8wr366L3YHnNw=",
	"{PLAIN-MD5}99c7ccd49456111c659f8209fc3f00f1",
	"{LDAP-MD5}mcfM1JRWERxln4IJ/D8A8Q==",
	"{MD5}$1$lLYjJXMr$AFnFK/h66PhEAyd6qmUej.",
	"{MD5-CRYPT}$1$krz9u8QE$VGKLRRyHrkvV8qB3Iyb1C0",
	"{DES-CRYPT}LwsCwfF.BZKhs",
	"{CRYPT}$2y$05$NrMsBFQY/La.wAp5LjN7HOYQhrzosnTlweol9XwKwNlWOfCGhbHSq",
	"{SHA256-CRYPT}$5$QHyWCnDGTU3p8LBP$glYniggctRx01X/5pHuASdhjh4tkGZ3OHgI"
	    "8o71raXC",
	"{SHA512-CRYPT}$6$AfAp5kVoDqpfdFGw$gi7Os3lTEXCxWGsTNNyuQO.bY3zgSQuFzuT"
	    "88OdzmZLat3JzNJv/b/YyYgLKmWtR/mzIGa8RmdZJbI8ZOHW811",
	"{BLF-CRYPT}$2y$05$qgtKZn4kZu0VObqVSsQbi.ARVfWGnxt0clGAVqCg.dsncp5hznb"
	    ".O",
	"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$QRL6jPRXdp2/EkIgHWi4Lg$d0Wg1TD"
	    "tbdiCGSOI2AgdbX8Q8JClkdtHfHyzelPFqgY",
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$hxkjgI3wQ5OrvSPUUEwG7g$SsqgS"
	    "/pZ5psPqo0/VU2bXq4HW4xErfGIQu4TGAi2pno",
	"{PBKDF2}$1$M86OUm6WZaECB4VL$5000$8f7acdedfa1332e0b7c08cdd3d874de5e890"
	    "0db1",
	"{SCRAM-SHA-1}4096,jI5MILuRKB0NwDYQ0K0oeA==,ubnUniqZ8o8XTxBRyTBK06Gea6"
	    "0=,Alq+57l/8yc7AoDc6/LuWlZwPnY=",
	"{SCRAM-SHA-256}4096,0bJqquviNWIe0wBjliyUGQ==,gnO6MgK7gi7xiUYmitRu6Ymq"
	    "QthBMANsy9EH5Qnv/sY=,GHob+Z2slx74cDW/Gg/lpCdpQA8lU4ym9oAhl7O9rp0=",
	"{PLAIN}Tsamba-Test-pw9",
	"{CLEAR}Tsamba-Test-pw9",
	"{CLEARTEXT}Tsamba-Test-pw9",
	"{SHA256.HEX}3320703aaa6d2401a48a43fdd43a3ecd0ec41ee52a4e91358d6e110b0"
	    "a51202b",
	"{SHA512.HEX}2d1c9801e405f875649c82817e0e8adbecce57ca7907f83b688df21fa"
	    "5dbbeaa6c3032a15020cb1975f0d549ef9f2c9164afcf46ad7fa26e945ef778df"
	    "3f5902",
	"{SSHA512.HEX}7c7241a69b93adcaab87c03147fa804c803265969a49fdb6853edc6e"
	    "d6472006ceb724c35d766605de3f535437d6706f424fd6489a5e0d1bc74596b2c"
	    "8ba6768ff220c4b",
	"{SSHA256.HEX}6d6ca2cc78c85ef1689e440c1f25f461d0b922ca9d79261bb49b533a"
	    "802e872fe7eca2e0",
	"{SSHA.HEX}f4586ecf425d942de055b0aeae26119c2f976b1feceb8ae9",
	"{SMD5.HEX}7ff733a8f0544fb39a2bdefb4b77dca17df18522",
	"{SHA.HEX}04926c7dd1c2f8e969e65f30af7eba2f76079cdc",
	"{LDAP-MD5.HEX}99c7ccd49456111c659f8209fc3f00f1",
	"{PLAIN-MD5.B64}mcfM1JRWERxln4IJ/D8A8Q==",
	"{PLAIN.B64}VHNhbWJhLVRlc3QtcHc5",
	"{PLAIN.HEX}5473616d62612d546573742d707739",
	"{SHA1.B64}BJJsfdHC+Olp5l8wr366L3YHnNw=",
	"{SSHA.BASE64}kifC6jPA3KQdOHEVtty74H32pPMULLcO",
	"{MD5}99c7ccd49456111c659f8209fc3f00f1",
	"{CRYPT}nmyfBVWz/4Nw.",
	"nmyfBVWz/4Nw.",
	"$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/",
	"{sha256.hex}3320703AAA6D2401A48A43FDD43A3ECD0EC41EE52A4E91358D6E110B0"
	    "A51202B",
};

/* Good hashes of another password: a mismatch, not a bad scheme. */
static const char *other[] = {
	"{MD5-CRYPT}$1$abcdefgh$G//4keteveJp0qb8z2DxG/",	/* "password" */
	"abJnggxhB/yWI",			/* DES crypt */
	"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",	/* "password" */
	"{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99",
	"{SSHA256}M3Gmh0zC6t8tSIwXFGSnmPUfXREg69Ab+OxsbTXHf9K9V2Sy",
};

/* Unknown, unsupported or malformed: never a match, never a crash. */
static const char *bad[] = {
	"",
	"{",
	"{}",
	"{SHA512-CRYPT",
	"{NOSUCH}$6$saltsaltsaltsalt$x",
	"*",
	"!",
	"{SHA512-CRYPT}",
	"{SHA512-CRYPT}$5$saltsaltsaltsalt$adr6Gskzb9..agAIyq/uO5S4O4esuvYM5"
	    ".xWjHASSjC",			/* tag and hash disagree */
	"{SHA512-CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe",	/* truncated */
	/* Dovecot schemes tsamba does not read (passwd.c says why) */
	"{CRAM-MD5}29dac59c21bc3017e76359109c7a4fba702c8a936ac73162c42ab9ea"
	    "36fde0cf",
	"{PLAIN-TRUNC}" PW,
	"{DIGEST-MD5}abcdef0123456789abcdef0123456789",
	"{PLAIN-MD4}abcdef0123456789abcdef0123456789",
	/* digests: wrong length, bad characters, bad encodings */
	"{SHA256}MyBwOqptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRIC==",
	"{SHA256}MyBwOqptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs",
	"{SHA256}MyBw=qptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs=",
	"{SHA256}MyBw qptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs=",
	"{SHA256.HEX}3320703aaa6d2401a48a43fdd43a3ecd0ec41ee52a4e91358d6e11"
	    "0b0a51202",
	"{SHA256.HEX}3320703aaa6d2401a48a43fdd43a3ecd0ec41ee52a4e91358d6e11"
	    "0b0a51202x",
	"{SHA256.XYZ}MyBwOqptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs=",
	"{SHA256.}MyBwOqptJAGkikP91Do+zQ7EHuUqTpE1jW4RCwpRICs=",
	"{SHA512-CRYPT.HEX}2432",
	"{PLAIN-MD5}99c7ccd49456111c659f8209fc3f00f",
	"{SHA}",
	"{SSHA}BJJsfdHC+Olp5l8wr366L3YHnNw=",	/* no salt */
	"{SMD5.HEX}",
	"{PLAIN.B64}VHNhbWJhLVRlc3QtcHc",
	"{PLAIN.HEX}5473616d62612d546573742d70773",
	"{MD5}$1$abcdefghij$pP8pfTxMGQYPeOpS2ikw3/",	/* salt too long */
	"{MD5-CRYPT}99c7ccd49456111c659f8209fc3f00f1",
	"{DES-CRYPT}nmyfBVWz/4Nw",
	"{DES-CRYPT}$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/",
	"nmyfBVWz/4Nw.x",
	/* PBKDF2 and SCRAM: fields, rounds over the cap */
	"{PBKDF2}$1$M86OUm6WZaECB4VL$5000$8f7acdedfa1332e0b7c08cdd3d874de5"
	    "e8900db",
	"{PBKDF2}$1$M86OUm6WZaECB4VL$99999999$8f7acdedfa1332e0b7c08cdd3d874"
	    "de5e8900db1",
	"{PBKDF2}$1$M86OUm6WZaECB4VL$0$8f7acdedfa1332e0b7c08cdd3d874de5e890"
	    "0db1",
	"{PBKDF2}$1$$5000$8f7acdedfa1332e0b7c08cdd3d874de5e8900db1",
	"{PBKDF2}$2$M86OUm6WZaECB4VL$5000$8f7acdedfa1332e0b7c08cdd3d874de5e"
	    "8900db1",
	"{SCRAM-SHA-1}4096,jI5MILuRKB0NwDYQ0K0oeA==,ubnUniqZ8o8XTxBRyTBK06Ge"
	    "a60=",
	"{SCRAM-SHA-1}4096,jI5MILuRKB0NwDYQ0K0oeA==,ubnUniqZ8o8XTxBRyTBK06Ge"
	    "a60=,Alq+57l/8yc7AoDc6/LuWlZwPnY=,x",
	"{SCRAM-SHA-1}99999999,jI5MILuRKB0NwDYQ0K0oeA==,ubnUniqZ8o8XTxBRyTBK"
	    "06Gea60=,Alq+57l/8yc7AoDc6/LuWlZwPnY=",
	"{SCRAM-SHA-256}4096,jI5MILuRKB0NwDYQ0K0oeA==,ubnUniqZ8o8XTxBRyTBK06"
	    "Gea60=,Alq+57l/8yc7AoDc6/LuWlZwPnY=",	/* SHA-1 sized keys */
	"{SCRAM-SHA-1}4096,,ubnUniqZ8o8XTxBRyTBK06Gea60=,Alq+57l/8yc7AoDc6/L"
	    "uWlZwPnY=",
	"{ARGON2I}$argon2id$v=19$m=1024,t=2,p=1$dHNhbWJhc2FsdHNhbHQ$9Xd36UT"
	    "igspF+qcGYUbMPysOBrH8Gi0snEl93wNBfWE",
	"{ARGON2I}$argon2i$v=19$m=4194304,t=4,p=1$QRL6jPRXdp2/EkIgHWi4Lg$d0"
	    "Wg1TDtbdiCGSOI2AgdbX8Q8JClkdtHfHyzelPFqgY",
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
};

/* A DES crypt hash: {CRYPT} / {DES-CRYPT} / bare, 13 characters. */
static int
is_des(const char *h)
{
	const char	*b;

	if ((b = strchr(h, '}')) != NULL) {
		if (strncmp(h, "{CRYPT}", 7) != 0 &&
		    strncmp(h, "{DES-CRYPT}", 11) != 0)
			return 0;
		h = b + 1;
	}
	return strlen(h) == 13 && strchr(h, '$') == NULL;
}

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
	for (i = 0; i < sizeof(dovecot) / sizeof(dovecot[0]); i++) {
		CHECKF(passwd_verify(dovecot[i], PW) == PASSWD_OK, "%s",
		    dovecot[i]);
		CHECKF(passwd_verify(dovecot[i], wrong) == PASSWD_MISMATCH,
		    "%s", dovecot[i]);
		CHECKF(passwd_verify(dovecot[i], "") == PASSWD_MISMATCH,
		    "%s", dovecot[i]);
		/* DES crypt reads 8 characters: one reason it is weak. */
		if (is_des(dovecot[i]))
			continue;
		CHECKF(passwd_verify(dovecot[i], PW "x") == PASSWD_MISMATCH,
		    "%s", dovecot[i]);
		CHECKF(passwd_verifyn(dovecot[i], PW, strlen(PW) - 1) ==
		    PASSWD_MISMATCH, "%s", dovecot[i]);
	}
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		CHECKF(passwd_verify(other[i], PW) == PASSWD_MISMATCH, "%s",
		    other[i]);
}

/* What tsambactl check reports: weak and unusable hashes, by name. */
static void
test_strength(void)
{
	static const struct {
		const char	*stored;
		int		 strength;
		const char	*name;
	} s[] = {
		{ "{SHA512-CRYPT}$6$saltsaltsaltsalt$KrS3xGMfe.bdiuK3bv1XXS7"
		    "nYB6P/yBdTheLX5wPxTl8IxaYc6ts.Zw8ZhbkMHcKmuMcfgj7977flfAx"
		    "lfwvP0", PASSWD_STRONG, "SHA512-CRYPT" },
		{ "$2b$04$abcdefghijklmnopqrstuuhcznklPD4XE5R4/NuYvofHsk2N"
		    "cgu7C", PASSWD_STRONG, "BLF-CRYPT" },
		{ "{CRYPT}$y$j9T$3HIg74QoMHaitcrZqkLHC.$g2oU20GKs4o4RiQ4uOl3s"
		    "mXsqG/UZpaHSXjAAggnbXC", PASSWD_STRONG, "YESCRYPT" },
		{ "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$QRL6jPRXdp2/EkIgHWi"
		    "4Lg$d0Wg1TDtbdiCGSOI2AgdbX8Q8JClkdtHfHyzelPFqgY",
		    PASSWD_STRONG, "ARGON2I" },
		{ "{SSHA512}Gk6p6Id2Drz/p58LAQS6R2NImRFS9OZCsDC+ngEr8e6hE0ooHN"
		    "0kAEvCe025MH8gQvMJuCJlizDqFgxolfHJO/RYpRQ=", PASSWD_WEAK,
		    "SSHA512" },
		{ "{MD5-CRYPT}$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/", PASSWD_WEAK,
		    "MD5-CRYPT" },
		{ "{CRYPT}$1$abcdefgh$pP8pfTxMGQYPeOpS2ikw3/", PASSWD_WEAK,
		    "MD5-CRYPT" },
		{ "abJnggxhB/yWI", PASSWD_WEAK, "DES-CRYPT" },
		{ "{plain}x", PASSWD_WEAK, "PLAIN" },
		{ "{SHA256.HEX}3320703aaa6d2401a48a43fdd43a3ecd0ec41ee52a4e913"
		    "58d6e110b0a51202b", PASSWD_WEAK, "SHA256" },
		{ "{NOSUCH}x", PASSWD_UNUSABLE, "" },
		{ "{CRAM-MD5}29dac59c21bc3017e76359109c7a4fba702c8a936ac73162c"
		    "42ab9ea36fde0cf", PASSWD_UNUSABLE, "" },
		{ "{SHA256}short", PASSWD_UNUSABLE, "SHA256" },
		{ "{BLF-CRYPT}$2y$31$abcdefghijklmnopqrstuuhcznklPD4XE5R4/NuYv"
		    "ofHsk2Ncgu7C", PASSWD_UNUSABLE, "BLF-CRYPT" },
		{ "!", PASSWD_UNUSABLE, "" },
		{ "", PASSWD_UNUSABLE, "" },
	};
	char	name[32];
	size_t	i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		CHECKF(passwd_strength(s[i].stored, name, sizeof(name)) ==
		    s[i].strength, "%s", s[i].stored);
		CHECKF(strcmp(name, s[i].name) == 0, "%s: %s", s[i].stored,
		    name);
	}
	CHECK(passwd_strength(NULL, name, sizeof(name)) == PASSWD_UNUSABLE);
	CHECK(passwd_strength(good[0], NULL, 0) == PASSWD_STRONG);
	for (i = 0; i < sizeof(dovecot) / sizeof(dovecot[0]); i++)
		CHECKF(passwd_strength(dovecot[i], NULL, 0) !=
		    PASSWD_UNUSABLE, "%s", dovecot[i]);
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
	test_strength();
	test_odd_passwords();
	test_roundtrip();
	test_generate();
	test_policy();
	return unit_done("passwd");
}
