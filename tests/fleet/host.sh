#!/bin/bash
# tests/fleet/host.sh DIR SERVER COUNT: the init of one test host, run by
# tests/fleet/run.sh as process 1 of a new PID namespace, in a new mount
# namespace, inside the host's network namespace.
#
# DIR is the host's own directory on the machine; its store, trust store, logs,
# /run/hotpatch, /tmp and /var/tmp are bind-mounted over the standard paths,
# so that hpapply, hpstatus and Ansible on this host see only this host's.
# Then COUNT copies of the server SERVER (the live-server sample), and sshd
# with DIR/sshd_config, in the foreground of this shell, which stays to reap
# what is left to it. DIR/ready appears when all of it runs; killing this
# process (run.sh kills the unshare above it, with --kill-child) ends every
# process of the host.
set -eu
H=$1 SERVER=$2 COUNT=$3

mount --make-rprivate /
mount --bind "$H/store" /var/lib/hotpatch
mount --bind "$H/trusted" /etc/hotpatch/trusted.d
mount --bind "$H/log" /var/log/hotpatch
mount --bind "$H/run-hotpatch" /run/hotpatch
mount --bind "$H/tmp" /tmp
mount --bind "$H/vartmp" /var/tmp

cd /tmp
for i in $(seq "$COUNT"); do
	"$SERVER" > "/tmp/server.$i.out" 2>&1 &
	echo $! > "/tmp/server.$i.pid"
done
for i in $(seq "$COUNT"); do
	n=0
	until grep -q listening "/tmp/server.$i.out" 2> /dev/null; do
		n=$((n + 1))
		[ $n -lt 250 ] || { echo "host.sh: server $i did not start" >&2; exit 1; }
		sleep 0.02
	done
done

/usr/sbin/sshd -D -e -f "$H/sshd_config" 2>> "$H/sshd.log" &
touch "$H/ready"
# Process 1 of the namespace: wait reaps every child, adopted ones too.
while :; do
	wait || true
	sleep 1
done
