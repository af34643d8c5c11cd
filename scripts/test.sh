#!/usr/bin/env bash
# test.sh: THE test command of scyllaops. It starts the real test servers
# (scripts/services.sh), then runs, in order, and stops at the first failure:
#   1. gofmt check            (lists unformatted files)
#   2. go vet ./...
#   3. golangci-lint (v2.6.2, .golangci.yml; installed into the cache bin dir if missing)
#   4. go test -race -shuffle=on -count=1 -timeout 40m ./...
#   5. go test -tags outage ./store/cqlstore ./examples/server  (restarts Cassandra; 3 scheduler
#      processes, then 3 server processes, each with a SIGKILL: real-time tests that run alone, after 4)
# and prints the wall time of each phase. Environment: SCYLLAOPS_CI_DIR (cache dir),
# TEST_FLAGS (extra go test flags for phase 4), TEST_PKGS (packages of phase 4, default ./...),
# SKIP_LINT=1 to skip phase 3.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI=${CI:-1}

declare -a _phases=()
_fail=0
phase() {
	local name=$1 t0=$SECONDS rc
	shift
	echo "=== $name"
	"$@"
	rc=$?
	_phases+=("$(printf '%-14s %4ds  %s' "$name" $((SECONDS - t0)) "$([[ $rc == 0 ]] && echo ok || echo "FAIL ($rc)")")")
	if ((rc != 0)); then
		_fail=1
		summary
		exit "$rc"
	fi
}
summary() {
	echo "=== phase timings"
	printf '%s\n' "${_phases[@]}"
}

start_services() {
	# shellcheck source=scripts/services.sh
	source scripts/services.sh
}

check_gofmt() {
	local bad
	bad=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^vendor/') 2>&1)
	if [[ -n $bad ]]; then
		echo "gofmt: these files need formatting (gofmt -w):"
		echo "$bad"
		return 1
	fi
}

run_lint() {
	if [[ ${SKIP_LINT:-} == 1 ]]; then
		echo "skipped (SKIP_LINT=1)"
		return 0
	fi
	local lint=$SCYLLAOPS_CI_DIR/bin/golangci-lint
	if [[ ! -x $lint ]] || ! "$lint" version 2>/dev/null | grep -q ' 2\.6\.2 '; then
		echo "installing golangci-lint v2.6.2"
		GOFLAGS=-buildvcs=false GOBIN=$SCYLLAOPS_CI_DIR/bin \
			go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.6.2 || return 1
	fi
	# config verify fetches its JSON schema from the web unless given one: use the copy in the
	# module cache (the network here reaches only the Go proxy, apt and npm).
	local schema
	schema=$(cd "${TMPDIR:-/tmp}" && go mod download -json github.com/golangci/golangci-lint/v2@v2.6.2 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/jsonschema/golangci.next.jsonschema.json
	"$lint" config verify --config .golangci.yml --schema "file://$schema" || return 1
	"$lint" run --allow-parallel-runners --config .golangci.yml ./...
}

run_tests() {
	# shellcheck disable=SC2086
	go test -race -shuffle=on -count=1 -timeout 40m ${TEST_FLAGS:-} ${TEST_PKGS:-./...}
}

run_outage() {
	go test -race -count=1 -p 1 -timeout 20m -tags outage -run 'TestOutage|TestHAProcesses|TestHAServers|TestServerStoreOutage|TestRolesServers' -v ./store/cqlstore/ ./examples/server/ |
		grep -vE 'level=(DEBUG|INFO|WARN)'
	return "${PIPESTATUS[0]}"
}

phase services start_services
phase gofmt check_gofmt
phase vet go vet ./...
phase lint run_lint
phase test run_tests
phase outage run_outage
summary
