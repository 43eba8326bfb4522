#!/bin/sh
# Make sure the Debian packages tsamba needs are present.
#   deps.sh build PKG...   packages to build (passed by the GNUmakefile)
#   deps.sh check          packages the tests need
# As root the missing ones are installed; otherwise the one apt-get line
# to run is printed and the script fails.
set -e
what=$1; shift
if [ "$what" = check ]; then
	set -- python3 python3-pytest swaks postfix mandoc openssl procps \
	    dpkg-dev debhelper lintian dovecot-imapd dovecot-pop3d \
	    iproute2 mariadb-server mariadb-client dnsmasq-base python3-dkim \
	    python3-nacl fail2ban python3-spf python3-authres python3-yaml \
	    publicsuffix python3-prometheus-client isync \
	    libmail-imapclient-perl mutt tmux python3-milter rspamd "$@"
fi
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# A package's maintainer script must not start a system service on
	# the test machine: policy-rc.d 101 refuses it.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -q $missing >/dev/null ||
	    { apt-get update -q >/dev/null && apt-get install -y -q $missing; }
else
	echo "missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
