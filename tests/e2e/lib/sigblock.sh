# sigblock.sh: read .hpx signature blocks with shell tools and check them with
# the plain openssl command, independently of signer/. Sourced by the e2e
# scripts; formats/hpx-format.md ("Signature blocks") is what it follows.
#
#   sig_starts FILE                   file offset of each block, one per line
#   sig_verify_openssl FILE START PUB verify the block at START with PUB.pem (exit 0 = verified)
#   key_id_of PUB.pem                 SHA-256 of the key's DER SubjectPublicKeyInfo, hex

le() { # FILE OFFSET BYTES: an unsigned little-endian field
	od -An -tu"$3" --endian=little -j "$2" -N "$3" "$1" | tr -d ' '
}

sig_starts() {
	at=$((64 + $(le "$1" 16 8)))
	size=$(stat -c %s "$1")
	while [ "$at" -lt "$size" ]; do
		echo "$at"
		at=$((at + $(le "$1" $((at + 4)) 4)))
	done
}

key_id_of() {
	openssl pkey -pubin -in "$1" -outform DER | openssl dgst -sha256 -r | cut -c1-64
}

# The 88-byte message a block at START signs, built from the spec alone:
# "hotpatch-sig-v1\0" || algorithm (LE16) || 6 zero bytes || key id || SHA-256(bytes [0, START)).
sig_message() { # FILE START ALG PUB.pem
	printf 'hotpatch-sig-v1\000'
	printf "\\$(printf %03o "$3")\\000\\000\\000\\000\\000\\000\\000"
	openssl pkey -pubin -in "$4" -outform DER | openssl dgst -sha256 -binary
	head -c "$2" "$1" | openssl dgst -sha256 -binary
}

sig_verify_openssl() { # FILE START PUB.pem
	d=$(mktemp -d)
	alg=$(le "$1" $(($2 + 8)) 2)
	n=$(le "$1" $(($2 + 10)) 2)
	sig_message "$1" "$2" "$alg" "$3" > "$d/msg"
	tail -c +$(($2 + 49)) "$1" | head -c "$n" > "$d/sig"
	rc=0
	case $alg in
	1) # Ed25519, pure: the message itself
		openssl pkeyutl -verify -pubin -inkey "$3" -rawin -in "$d/msg" -sigfile "$d/sig" >/dev/null || rc=$? ;;
	2) # ECDSA P-256: the SHA-256 of the message, DER signature
		openssl dgst -sha256 -binary "$d/msg" > "$d/digest"
		openssl pkeyutl -verify -pubin -inkey "$3" -in "$d/digest" -sigfile "$d/sig" >/dev/null || rc=$? ;;
	*) rc=9 ;;
	esac
	rm -rf "$d"
	return $rc
}
