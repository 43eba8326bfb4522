/*
 * Unit tests for lib/keyop_client.c and lib/keyop_server.c: a real key
 * process (forked, as "nobody" when run as root) loads an RSA and an
 * ECDSA key from descriptors; this process installs the forwarding
 * methods and signs with public-only keys.  The signatures must verify
 * with the real keys; a key the server does not hold, a refused padding
 * and a garbage key file fail, and the channel keeps working after each
 * failure.
 */

/* RSA and EC_KEY: the legacy objects the methods work on. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "imsg.h"
#include "keyop.h"
#include "log.h"
#include "proto.h"
#include "unit.h"

static char	 tmpdir[] = "/tmp/tsamba-keyop-XXXXXX";

/* A key written as PEM to a file: the descriptor, read from 0. */
static int
key_file(EVP_PKEY *pkey, const char *name)
{
	char	 path[256];
	FILE	*fp;
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	if (pkey != NULL)
		PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
	else
		fputs("-----BEGIN PRIVATE KEY-----\ngarbage\n"
		    "-----END PRIVATE KEY-----\n", fp);
	fclose(fp);
	fd = open(path, O_RDONLY);
	unlink(path);
	return fd;
}

/* The parent's side: KEY_LOAD, and the KEY_LOADED status. */
static int
load(struct imsgbuf *ib, const char *name, int fd)
{
	struct ibuf	*b;
	struct imsg	 imsg;
	char		 got[64];
	uint8_t		 status = 2;
	ssize_t		 n;
	int		 rv;

	if ((b = imsg_create(IMSG_KEY_LOAD, 0, fd)) == NULL)
		return -1;
	ibuf_add_str(b, name);
	if (imsg_close(ib, b) == -1 || imsgbuf_flush(ib) == -1)
		return -1;
	for (;;) {
		if ((rv = imsg_get(ib, &imsg)) == -1)
			return -1;
		if (rv == 0) {
			if ((n = imsgbuf_read(ib)) <= 0)
				return -1;
			continue;
		}
		if (imsg.hdr.type == IMSG_HELLO) {
			imsg_free(&imsg);
			continue;
		}
		rv = imsg.hdr.type == IMSG_KEY_LOADED &&
		    imsg_get_str(&imsg, got, sizeof(got)) == 0 &&
		    imsg_get_u8(&imsg, &status) == 0 &&
		    strcmp(got, name) == 0 ? status : -1;
		imsg_free(&imsg);
		return rv;
	}
}

/* An RSA key with only the public half of pkey (and today's method). */
static RSA *
rsa_public(EVP_PKEY *pkey)
{
	const RSA	*full = EVP_PKEY_get0_RSA(pkey);
	RSA		*r;

	if ((r = RSA_new()) == NULL ||
	    RSA_set0_key(r, BN_dup(RSA_get0_n(full)),
	    BN_dup(RSA_get0_e(full)), NULL) != 1)
		return NULL;
	return r;
}

static EC_KEY *
ec_public(EVP_PKEY *pkey)
{
	const EC_KEY	*full = EVP_PKEY_get0_EC_KEY(pkey);
	EC_KEY		*e;

	if ((e = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    EC_KEY_set_public_key(e, EC_KEY_get0_public_key(full)) != 1)
		return NULL;
	return e;
}

int
main(void)
{
	struct imsgbuf	 ib;
	struct passwd	*pw;
	EVP_PKEY	*rsakey, *eckey, *other;
	RSA		*pub, *unknown, *real;
	EC_KEY		*ecpub, *ecreal;
	unsigned char	 dgst[32], sig[512], block[256], want[256];
	unsigned int	 siglen;
	int		 p[2], c[2], status;
	pid_t		 pid;

	log_init(1, "test_keyop");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rsakey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	eckey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	CHECK(rsakey != NULL && eckey != NULL && other != NULL);
	/* The real RSA, made while the default method is OpenSSL's. */
	real = EVP_PKEY_get1_RSA(rsakey);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, c) == -1)
		return 1;
	pw = getpwuid(getuid());
	switch (pid = fork()) {
	case -1:
		return 1;
	case 0:
		close(p[0]);
		close(c[0]);
		keyop_server_main(p[1], c[1], getuid() == 0 ? "nobody" :
		    pw->pw_name, NULL, "keys");
		_exit(1);
	}
	close(p[1]);
	close(c[1]);

	imsgbuf_init(&ib, p[0]);
	CHECK(imsg_close(&ib, msg_hello_pack(&(struct msg_hello){
	    .version = PROTO_VERSION, .who = "test" }, -1)) == 0);
	CHECK(load(&ib, "rsa", key_file(rsakey, "rsa.pem")) == 0);
	CHECK(load(&ib, "ec", key_file(eckey, "ec.pem")) == 0);
	CHECK(load(&ib, "bad", key_file(NULL, "bad.pem")) == 1);
	rmdir(tmpdir);

	CHECK(keyop_client_init(c[0]) == 0);
	memset(dgst, 0x5a, sizeof(dgst));

	/* TLS 1.2: PKCS#1 signature, verified with the real key. */
	pub = rsa_public(rsakey);
	CHECK(pub != NULL);
	CHECK(RSA_sign(NID_sha256, dgst, sizeof(dgst), sig, &siglen,
	    pub) == 1);
	CHECK(RSA_verify(NID_sha256, dgst, sizeof(dgst), sig, siglen,
	    real) == 1);

	/* TLS 1.3: PSS is padded here and sent as a raw block. */
	memset(block, 0x11, sizeof(block));
	block[0] = 0;
	CHECK(RSA_private_encrypt(sizeof(block), block, want, real,
	    RSA_NO_PADDING) == 256);
	CHECK(RSA_private_encrypt(sizeof(block), block, sig, pub,
	    RSA_NO_PADDING) == 256);
	CHECK(memcmp(sig, want, 256) == 0);

	/* Refused: a padding TLS never signs with, a key not held. */
	CHECK(RSA_private_encrypt(32, dgst, sig, pub,
	    RSA_PKCS1_OAEP_PADDING) == -1);
	unknown = rsa_public(other);
	CHECK(RSA_sign(NID_sha256, dgst, sizeof(dgst), sig, &siglen,
	    unknown) == 0);

	/* ECDSA, still on the same channel. */
	ecpub = ec_public(eckey);
	CHECK(ecpub != NULL);
	CHECK(ECDSA_sign(0, dgst, sizeof(dgst), sig, &siglen, ecpub) == 1);
	ecreal = EVP_PKEY_get1_EC_KEY(eckey);
	CHECK(ECDSA_verify(0, dgst, sizeof(dgst), sig, siglen, ecreal) == 1);
	CHECK(RSA_sign(NID_sha256, dgst, sizeof(dgst), sig, &siglen,
	    pub) == 1);

	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid);
	/* The key process is gone: the next operation fails, no hang. */
	CHECK(RSA_sign(NID_sha256, dgst, sizeof(dgst), sig, &siglen,
	    pub) == 0);

	RSA_free(pub);
	RSA_free(unknown);
	RSA_free(real);
	EC_KEY_free(ecpub);
	EC_KEY_free(ecreal);
	EVP_PKEY_free(rsakey);
	EVP_PKEY_free(eckey);
	EVP_PKEY_free(other);
	return unit_done("test_keyop");
}
