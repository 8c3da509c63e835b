#!/bin/sh
# cli/completion.bash as bash runs it: bash-completion's functions loaded, a
# command line typed (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT as
# readline sets them), the completion function called, its answers checked.
# Every long option of each tool's --help must be completed, and nothing that
# the tool would not accept. Needs bash-completion (make deps installs it): a
# missing one is a failure, not a skip.
set -eu
BIN=${BIN:-bin}
BC=/usr/share/bash-completion/bash_completion
fail() { echo "FAIL: $*"; exit 1; }
[ -r "$BC" ] || fail "$BC is missing: install bash-completion (make deps)"
command -v bash > /dev/null || fail "no bash"
BIN=$(cd "$BIN" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)/cli/completion.bash
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

bash -s "$BC" "$SRC" "$BIN" "$T" <<'BASH'
set -u
BC=$1 SRC=$2 BIN=$3 T=$4
fail() { echo "FAIL: $*"; exit 1; }
PATH=$BIN:$PATH
. "$BC" || fail "sourcing $BC"
. "$SRC" || fail "sourcing $SRC"

TOOLS="hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd"
for t in $TOOLS; do
	complete -p "$t" 2>/dev/null | grep -q -- '-F _hotpatch ' || fail "no completion registered for $t"
done

# comp LINE: what completing at the end of LINE offers, sorted, one line.
# Words are split as readline splits them: on blanks, and around the
# characters of COMP_WORDBREAKS that bash-completion handles ('=' and ':').
comp()
{
	local line=$1 w='' c i
	COMP_WORDS=()
	for ((i = 0; i < ${#line}; i++)); do
		c=${line:i:1}
		case $c in
		' ') [[ -n $w ]] && COMP_WORDS+=("$w"); w='' ;;
		'=' | ':') [[ -n $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w='' ;;
		*) w+=$c ;;
		esac
	done
	COMP_WORDS+=("$w") # the word being completed, maybe empty
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_hotpatch "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect LINE WANTED: completing LINE offers exactly WANTED.
expect()
{
	local got
	got=$(comp "$1")
	[[ $got == "$2" ]] || fail "completing '$1': got '$got', expected '$2'"
}

# Options.
expect 'hpapply --re' '--require --revert'
expect 'hpapply --in' '--insecure-unsigned --install'
expect 'hpdiff --j' '--json'
expect 'hpdiff --d' '--disasm'
expect 'hpsign x.hpx --k' '--key'
expect 'hpverify --tr' '--trust'
expect 'hpd --no' '--no-events'
expect 'hpstatus --st' '--store'
expect 'hpstatus --tr' '--trust'
expect 'hpbuild --pin' '--pin-env --pin-file' # only in a sentence of its help
expect 'hpbuild --mod' '--module'

# Operands and arguments, in a folder of known files.
mkdir -p "$T/w/sub" "$T/w/keys"
cd "$T/w"
touch a.o b.c fix.hpx old.hpx k.pem priv.key lib.so notes.txt report.json
printf '#!/bin/sh\n' > run && chmod +x run
expect 'hpdiff ' 'a.o keys sub'
expect 'hpdiff a.o ' 'a.o keys sub'
expect 'hpbuild a.o a.o -o ' 'fix.hpx keys old.hpx sub'
expect 'hpbuild --output=' 'fix.hpx keys old.hpx sub'
expect 'hpbuild --old-dir ' 'keys sub'
expect 'hpbuild --new-dir=' 'keys sub'
expect 'hpbuild --json ' 'keys report.json sub'
expect 'hpbuild --sequence ' ''
expect 'hpdiff --json ' 'a.o keys sub' # a flag here, not hpbuild's --json FILE
expect 'hpinspect ' 'fix.hpx keys old.hpx sub'
expect 'hpinspect --trust ' 'k.pem keys sub'
expect 'hpverify -t ' 'k.pem keys sub'
expect 'hpapply --pid 1 f' 'fix.hpx'
expect 'hpapply --exe ' 'keys run sub'
expect 'hpapply --store ' 'keys sub'
expect 'hpapply --timeout ' ''
expect 'hpd --store=' 'keys sub'
expect 'hpstatus --store=' 'keys sub'
expect 'hpstatus ' ''
expect 'hpsign fix.hpx --key ' 'k.pem keys pkcs11: priv.key sub'
expect 'hpsign fix.hpx --key pk' 'pkcs11:'
expect 'hpsign fix.hpx --key pkcs11:' ''
expect 'hpsign fix.hpx --module ' 'keys lib.so sub'
expect 'hpsign fix.hpx --pin-file n' 'notes.txt'
expect 'hpbuild --sign pk' 'pkcs11:'

# --pid: the pids of running processes.
sleep 30 & sleeper=$!
trap 'kill $sleeper 2> /dev/null' EXIT
got=$(comp 'hpapply --pid ')
[[ " $got " == *" $sleeper "* ]] || fail "hpapply --pid: $sleeper (a running sleep) not offered"
[[ $got =~ ^[0-9\ ]+$ ]] || fail "hpapply --pid offers more than pids: $got"
got=$(comp "hpstatus --pid=${sleeper:0:1}")
[[ " $got " == *" $sleeper "* ]] || fail "hpstatus --pid=: $sleeper not offered"
kill $sleeper

# hpapply --uninstall: the ids in the store's index.
mkdir -m 0700 "$T/store"
printf 'hotpatch-store 1\n%s 1 abcd 1700000000 server\n%s 2 abcd 1700000001 server\n' \
	0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210 > "$T/store/index"
expect "hpapply --store $T/store --uninstall 0" '0123456789abcdef0123456789abcdef'
HOTPATCH_STORE=$T/store expect 'hpapply --uninstall ' \
	'0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210'

# Every long option of each tool's --help is completed (the lines of options,
# and the usage lines), and every option completed is one the tool accepts.
cd "$T"
for t in $TOOLS; do
	helped=$("$t" --help | grep -E '^(usage:| )' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
	[[ -n $helped ]] || fail "$t --help names no option"
	offered=" $(comp "$t -") "
	for o in $helped; do
		[[ $offered == *" $o "* ]] || fail "$t: $o is in its --help but not completed (offered:$offered)"
	done
	for o in $offered; do
		[[ $o == *= ]] && continue
		# The option, and an argument in case it takes one, then an unknown
		# option: the tool stops there, before it does anything.
		err=$(timeout 10 "$t" "$o" 1 --no-such-option-zz < /dev/null 2>&1 > /dev/null)
		[[ $o == --help || $o == -h || $o == --version || $err == *no-such-option-zz* ]] ||
			fail "$t $o 1 --no-such-option-zz: did not stop at the unknown option: $err"
		[[ $err == *"option '$o'"* || $err == *"option -- '${o#-}'"* ]] &&
			fail "$t does not accept $o, which is completed: $err"
	done
done
echo "completion: ok"
BASH
