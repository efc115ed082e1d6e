#!/bin/sh
# Run every test binary given, even after a failure; sum their
# "N passed, N failed" lines and exit non-zero if any failed or crashed.
passed=0; failed=0; broken=""
for t in "$@"; do
	echo "== $t"
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		passed=$((passed + p)); failed=$((failed + f))
	fi
	if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" = 0 ]; }; then
		broken="$broken $t(rc=$rc)"; failed=$((failed + 1))
	fi
done
[ -z "$broken" ] || echo "crashed or failed without a summary:$broken"
echo "total: $passed passed, $failed failed"
[ $failed -eq 0 ]
