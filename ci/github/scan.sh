#!/usr/bin/env bash
# The scan step of keysweep's GitHub Action (action.yml): ONE keysweep run over what the pull request or push
# introduced, writing SARIF; the job log lines and the step summary are made from that SARIF, never by a
# second scan. Also runnable outside Actions for a dry run (tests/it/ux.rs does): it reads only these
# variables.
#
#   KEYSWEEP_BIN          the keysweep binary (default: keysweep on PATH)
#   KEYSWEEP_PATH         the repository to scan (default: .)
#   KEYSWEEP_ARGS         extra arguments for `keysweep git` (word-split)
#   RUNNER_TEMP           where the SARIF goes (default: /tmp)
#   GITHUB_OUTPUT         step outputs: exit-code, sarif, findings
#   GITHUB_STEP_SUMMARY   the step summary (Markdown)
#
# Exit status: always 0; the action's last step fails the job from the `exit-code` output.
set -u
bin=${KEYSWEEP_BIN:-keysweep}
sarif="${RUNNER_TEMP:-/tmp}/keysweep.sarif"
out=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
rm -f "$sarif"
# shellcheck disable=SC2086 # KEYSWEEP_ARGS is a list of arguments
"$bin" git --ci --config-from-base --format sarif --output "$sarif" ${KEYSWEEP_ARGS:-} "${KEYSWEEP_PATH:-.}"
code=$?

# One line per result: `rule<TAB>path:line<TAB>message` (the SARIF is redacted: no secret in it).
results() {
  if command -v jq >/dev/null 2>&1; then
    jq -r '.runs[0].results[] | [.ruleId, ((.locations[0].physicalLocation.artifactLocation.uri // "?") + ":" + ((.locations[0].physicalLocation.region.startLine // 0) | tostring)), (.message.text // "")] | @tsv' "$sarif"
  else
    python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["runs"][0]["results"]:
    p = r["locations"][0]["physicalLocation"]
    print("\t".join([r["ruleId"], "%s:%s" % (p["artifactLocation"]["uri"], p["region"].get("startLine", 0)), r["message"]["text"]]))' "$sarif"
  fi
}

n=0
if [ -s "$sarif" ]; then
  lines=$(results) || lines=""
  if [ -n "$lines" ]; then
    n=$(printf '%s\n' "$lines" | wc -l | tr -d ' ')
  fi
fi
{
  echo "exit-code=$code"
  echo "findings=$n"
  if [ -s "$sarif" ]; then echo "sarif=$sarif"; fi
} >>"$out"

case "$code" in
  0) verdict="no credentials found" ;;
  1) verdict="$n credential finding(s)" ;;
  *) verdict="the scan failed or is incomplete (exit $code): see the step's log" ;;
esac
{
  echo "### keysweep: $verdict"
  if [ "$n" -gt 0 ]; then
    echo
    echo "| rule | where | |"
    echo "|---|---|---|"
    printf '%s\n' "$lines" | while IFS=$'\t' read -r rule where msg; do
      # Markdown table cells: no pipes, no newlines.
      printf '| `%s` | `%s` | %s |\n' "${rule//|/\\|}" "${where//|/\\|}" "${msg//|/\\|}"
    done
  fi
} >>"$summary"
# The same findings in the job log, as annotations on the files.
if [ "$n" -gt 0 ]; then
  printf '%s\n' "$lines" | while IFS=$'\t' read -r rule where msg; do
    echo "::error file=${where%:*},line=${where##*:},title=keysweep ${rule}::${msg}"
  done
fi
echo "keysweep: $verdict"
exit 0
