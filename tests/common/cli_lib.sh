# cli_lib.sh: what the end-to-end CLI test scripts share (sourced): a scratch folder $work removed
# at exit, the failure count, and run/pass/fail/expect.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# run NAME EXPECTED_STATUS CMD...: runs CMD, keeps its output in $work/NAME.out
run() {
  local name=$1 want=$2; shift 2
  "$@" > "$work/$name.out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$name: exit $got, expected $want"; sed 's/^/    /' "$work/$name.out" | tail -25
    return 1
  fi
  pass "$name"
}
expect() {  # expect NAME PATTERN: the output of NAME matches PATTERN (grep -E)
  grep -Eqi -- "$2" "$work/$1.out" || { fail "$1: output lacks /$2/"; sed 's/^/    /' "$work/$1.out" | tail -15; }
}
