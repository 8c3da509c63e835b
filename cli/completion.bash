# bash completion for hotpatch's tools: hpdiff hpbuild hpinspect hpsign
# hpverify hpapply hpstatus hpd.
#
# Installed as one file in bash-completion's completions directory, with a
# link for each tool's name so that bash-completion loads it on first use
# (make install). It needs bash-completion's functions (_init_completion,
# _filedir, _pids); to try it by hand: `. cli/completion.bash`.
#
# The options come from the tool's own --help, run when completing, so they
# are those of the build being completed: each line of the help that starts
# with blanks and a dash names one or more (`-o, --output FILE`), and a name
# followed by an upper-case word (`--pid PID`, or `--store [DIR]` where the
# argument may be left out) or by `[=` (`--store[=DIR]`) takes an argument. What kind of argument is known here, by option name.

# Options of the tool $1 as "NAME KIND" lines, KIND none, arg or optional:
# the aliases at the start of each line of its help that starts with blanks
# and a dash ("  -o, --output FILE   the patch..."), and what the last one
# takes; then those of the usage lines ("usage: hpstatus ... [--trust
# FILE|DIR]"), which name some that have no line of their own.
_hotpatch_options()
{
	"$1" --help 2>/dev/null | awk '
	function opt(s) {
		if (match(s, /^\[=[^]]*\]/))
			return "optional"
		return match(s, /^ \[?[A-Z][A-Z|_]*/) ? "arg" : "none"
	}
	/^[ \t]+-/ {
		s = $0
		sub(/^[ \t]+/, "", s)
		n = 0
		while (match(s, /^--?[a-zA-Z][a-zA-Z0-9-]*/)) {
			name[++n] = substr(s, 1, RLENGTH)
			s = substr(s, RLENGTH + 1)
			kind = opt(s)
			sub(/^(\[=[^]]*\]| \[?[A-Z][A-Z|_]*\]?)/, "", s)
			if (substr(s, 1, 2) != ", ")
				break
			s = substr(s, 3)
		}
		for (i = 1; i <= n; i++)
			print name[i], kind
		next
	}
	/^usage:/ || (/^[ \t]/ && !done) {
		s = " " $0
		while (match(s, /[ [(|]--?[a-zA-Z][a-zA-Z0-9-]*/)) {
			u = substr(s, RSTART + 1, RLENGTH - 1)
			s = substr(s, RSTART + RLENGTH)
			usage[++nu] = u " " opt(s)
		}
		next
	}
	{ done = 1 }
	END {
		for (i = 1; i <= nu; i++)
			print usage[i]
	}'
}

# What the option $2 of tool $1 takes: a kind of argument, or "none". The
# help says whether it takes one (hpdiff's --json does not, hpbuild's does);
# options named only in a sentence of the help (hpbuild's --module) are known
# here.
_hotpatch_arg_kind()
{
	local tool=$1 opt=$2 takes=$3
	case $opt in
	--pid) echo pid ;;
	--exe) echo exe ;;
	--store | --old-dir | --new-dir) echo dir ;;
	--trust | -t) echo trust ;;
	--key | -k | --sign) echo key ;;
	--module) echo module ;;
	--pin-env) echo env ;;
	--pin-file | --audit | --target) echo file ;;
	-o | --output) echo hpx ;;
	--timeout | --require | --sequence | --sweep-ms) echo number ;;
	--json) if [[ $takes == arg ]]; then echo json; else echo none; fi ;;
	*) if [[ $takes == arg ]]; then echo file; else echo none; fi ;;
	esac
}

# The ids of the patches in the store (hpapply --uninstall): the first word
# of each line of its index after the first, when it can be read.
_hotpatch_store_ids()
{
	local store=${HOTPATCH_STORE:-/var/lib/hotpatch} i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--store) store=${words[i + 1]} ;;
		--store=*) store=${words[i]#--store=} ;;
		esac
	done
	[[ -r $store/index ]] && awk 'NR > 1 { print $1 }' "$store/index" 2>/dev/null
}

# Complete $cur as an argument of kind $1.
_hotpatch_complete_arg()
{
	case $1 in
	pid) _pids ;;
	exe)
		# Executable files, and directories to walk into.
		local f
		COMPREPLY=()
		while IFS= read -r f; do
			[[ -d $f || -x $f ]] && COMPREPLY+=("$f")
		done < <(compgen -f -- "$cur")
		compopt -o filenames 2>/dev/null
		;;
	dir) _filedir -d ;;
	trust) _filedir pem ;;
	key)
		# A PEM private key file, or a PKCS#11 URI (RFC 7512).
		_filedir '@(pem|key)'
		if [[ pkcs11: == "$cur"* ]]; then
			COMPREPLY+=(pkcs11:)
			[[ ${#COMPREPLY[@]} == 1 ]] && compopt -o nospace 2>/dev/null
		fi
		;;
	module) _filedir so ;;
	env) COMPREPLY=($(compgen -v -- "$cur")) ;;
	hpx) _filedir hpx ;;
	json) _filedir json ;;
	number) COMPREPLY=() ;;
	*) _filedir ;;
	esac
}

_hotpatch()
{
	local cur prev words cword split
	_init_completion -s -n : || return

	local tool=${words[0]##*/} line name kind
	local -A takes=()
	local -a opts=()
	while read -r name kind; do
		[[ -n $name && -z ${takes[$name]+set} ]] || continue
		takes[$name]=$kind
		opts+=("$name")
		[[ $kind == optional ]] && opts+=("$name=")
	done < <(_hotpatch_options "${words[0]}")
	# Named only in a sentence of hpbuild's help: the key options of hpsign.
	if [[ $tool == hpbuild && -n ${takes[--sign]+set} ]]; then
		for name in --module --pin-env --pin-file; do
			[[ -n ${takes[$name]+set} ]] || { takes[$name]=arg; opts+=("$name"); }
		done
	fi

	# The argument of an option: "--pid 12", or "--pid=12" (split).
	kind=${takes[$prev]-}
	if [[ $prev == -* ]] && { [[ $kind == arg ]] || { $split && [[ $kind == optional ]]; }; }; then
		kind=$(_hotpatch_arg_kind "$tool" "$prev" "$kind")
		if [[ $kind != none ]]; then
			_hotpatch_complete_arg "$kind"
			__ltrim_colon_completions "$cur"
			return
		fi
	fi
	$split && return

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${opts[*]}" -- "$cur"))
		[[ ${#COMPREPLY[@]} == 1 && $COMPREPLY == *= ]] && compopt -o nospace 2>/dev/null
		return
	fi

	# The operands.
	case $tool in
	hpdiff | hpbuild) _filedir o ;;
	hpinspect | hpsign | hpverify) _filedir hpx ;;
	hpapply)
		local w
		for w in "${words[@]:1:cword-1}"; do
			case $w in
			--uninstall)
				COMPREPLY=($(compgen -W "$(_hotpatch_store_ids)" -- "$cur"))
				return
				;;
			--revert) return ;; # a patch id, as hpstatus shows it
			esac
		done
		_filedir hpx
		;;
	*) COMPREPLY=() ;; # hpstatus and hpd take no operand
	esac
}

complete -F _hotpatch hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd
