/*
 * base64.h: the value of one base64 digit, for the decoders that each
 * have their own rules around it (strict SASL, lenient MIME, IMAP's
 * modified UTF-7 with "," as digit 63).
 */

#ifndef TSAMBA_BASE64_H
#define TSAMBA_BASE64_H

#define BASE64_DIGIT63		'/'	/* RFC 4648 */
#define BASE64_DIGIT63_IMAP	','	/* RFC 3501 5.1.3 */

/* 0 to 63, or -1 for a character outside the alphabet. */
int	base64_value(int c, int digit63);

#endif
