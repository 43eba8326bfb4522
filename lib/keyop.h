/*
 * Private-key operations done in another process.  A process that parses
 * network input (the smtp engine, later the imap login process) runs its
 * TLS handshakes with the certificate only; every RSA or ECDSA operation
 * on the private key is sent to the key process, which holds the keys and
 * answers nothing else.
 *
 * How it works with libretls: tls_config_use_fake_private_key() lets
 * libtls configure a server context from the certificate alone; the
 * context's "private key" is then the certificate's public key.  The
 * client side installs, before any context is built, a default
 * RSA_METHOD and EC_KEY_METHOD whose private operations (RSA priv_enc
 * and priv_dec, ECDSA sign and sign_sig) send the public key's identity
 * and the input to the key process and wait for the answer.  Under
 * OpenSSL 3 an RSA or EC_KEY with a non-default method is still used
 * through that method, so TLS 1.2 (PKCS#1) and TLS 1.3 (PSS, padded here
 * and sent with RSA_NO_PADDING) signatures and ECDSA all come this way.
 * The key is found by a hash of its public half (keyop_keyid), not by
 * libtls' ex_data, which libretls on OpenSSL leaves empty.
 */

#ifndef TSAMBA_KEYOP_H
#define TSAMBA_KEYOP_H

#include <stddef.h>
#include <stdint.h>

struct tls_config;

/*
 * Exported by libretls 3.7 (libtls.so.26), as by LibreSSL's libtls, but
 * declared in neither Debian's tls.h nor its manual pages: a server
 * context configured with a certificate and no key uses the
 * certificate's public key in place of the private key.
 */
int	tls_config_use_fake_private_key(struct tls_config *);

#define KEYOP_ID_LEN		32	/* SHA-256 of the public key */
#define KEYOP_INPUT_MAX		1024	/* RSA-8192 block, or a digest */
#define KEYOP_TIMEOUT		5000	/* msec for one answer */
#define KEYOP_KEYFILE_MAX	(64 * 1024)	/* a PEM private key */

/* keyop_client.c: the network-facing side. */

/*
 * Route every private-key operation of RSA and EC keys created from now
 * on through fd (a blocking request/reply channel to the key process).
 * Call before the TLS contexts are built; 0, or -1 if OpenSSL refuses.
 */
int	keyop_client_init(int fd);

/* keyop_server.c: the key process. */

/*
 * The key process: drops to user in root (chroot), refuses ptrace and
 * core dumps, loads keys sent by the parent (IMSG_KEY_LOAD on parent_fd)
 * and answers the operations asked on client_fd.  Never returns.
 */
void	keyop_server_main(int parent_fd, int client_fd, const char *user,
	    const char *root, const char *procname);

/* Both sides name a key by a SHA-256 of its public half: 0 or -1. */
struct rsa_st;
struct ec_key_st;
int	keyop_id_rsa(const struct rsa_st *, uint8_t id[KEYOP_ID_LEN]);
int	keyop_id_ec(const struct ec_key_st *, uint8_t id[KEYOP_ID_LEN]);

#endif
