/*
 * base64.c: one base64 digit's value, shared by the decoders of SASL
 * (lib/sasl.c), MIME bodies and IMAP mailbox names (imapd/).
 */

#include "base64.h"

int
base64_value(int c, int digit63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == digit63)
		return 63;
	return -1;
}
