#!/usr/bin/env bash
# Records a deployment in Pacer with its changes worked out from the git checkout.
# The composite action in action.yml runs this; it runs as well in any CI shell step.
#
# Inputs (environment variables; action.yml maps its inputs onto them):
#   INPUT_SERVER_URL       Pacer server URL (required)
#   INPUT_SERVICE          service name (required)
#   INPUT_ENVIRONMENT      target environment [production]
#   INPUT_SHA              deployed commit [GITHUB_SHA]
#   INPUT_TOKEN            token for pull request lookups [GITHUB_TOKEN]
#   INPUT_TEAM             team (optional)
#   INPUT_DEPLOYMENT_ID    deployment id [github-OWNER-NAME-RUNID-ATTEMPT-SERVICE-ENVIRONMENT]
#   INPUT_DEPLOYED_AT      RFC 3339 or Unix seconds [now]
#   INPUT_PACER_BINARY     the pacer binary [pacer on PATH]
#   INPUT_WORKING_DIRECTORY  the git checkout [.]
# and what GitHub Actions sets: GITHUB_SHA, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL,
# GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_STEP_SUMMARY.
set -euo pipefail

fail() {
  # `::error::` shows as an annotation on the run in GitHub Actions; plain text elsewhere.
  echo "::error title=pacer deployment record::$*" >&2
  exit 1
}

server=${INPUT_SERVER_URL:-}
service=${INPUT_SERVICE:-}
environment=${INPUT_ENVIRONMENT:-production}
sha=${INPUT_SHA:-${GITHUB_SHA:-}}
checkout=${INPUT_WORKING_DIRECTORY:-.}
pacer=${INPUT_PACER_BINARY:-pacer}

[ -n "$server" ] || fail "the server-url input is empty: give the Pacer server's URL, e.g. https://pacer.example.com"
[ -n "$service" ] || fail "the service input is empty: name the deployed service, e.g. payments-api"
[ -n "$sha" ] || fail "no commit to record: set the sha input (GITHUB_SHA is not set either)"
command -v "$pacer" >/dev/null 2>&1 \
  || fail "cannot find the pacer binary ($pacer): install it first (cargo install --git <pacer repository> pacer --locked) or set the pacer-binary input"
command -v git >/dev/null 2>&1 || fail "git is not installed on this runner"
git -C "$checkout" rev-parse --git-dir >/dev/null 2>&1 \
  || fail "$checkout is not a git checkout: run actions/checkout (with fetch-depth: 0) before this step"
# A shallow checkout (actions/checkout's default fetch-depth: 1) cuts the history that lead
# time is measured on; refuse rather than record a wrong figure.
if [ "$(git -C "$checkout" rev-parse --is-shallow-repository)" = "true" ]; then
  fail "the checkout in $checkout is shallow, so lead time cannot be measured: use actions/checkout with fetch-depth: 0 (or run git fetch --unshallow first)"
fi

# One id per workflow run attempt, so a retried step never counts a deployment twice.
id=${INPUT_DEPLOYMENT_ID:-}
if [ -z "$id" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
  repo_slug=${GITHUB_REPOSITORY:-repo}
  id="github-${repo_slug//\//-}-${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT:-1}-${service}-${environment}"
fi

args=(deployment record --server "$server" --service "$service" --environment "$environment"
  --sha "$sha" --repo "$checkout")
[ -z "$id" ] || args+=(--id "$id")
[ -z "${INPUT_TEAM:-}" ] || args+=(--team "$INPUT_TEAM")
[ -z "${INPUT_DEPLOYED_AT:-}" ] || args+=(--deployed-at "$INPUT_DEPLOYED_AT")

# The token goes through the environment, never the command line (visible in `ps`).
token=${INPUT_TOKEN:-${GITHUB_TOKEN:-}}
if [ -n "$token" ]; then
  export GITHUB_TOKEN="$token"
else
  unset GITHUB_TOKEN
fi

output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
"$pacer" "${args[@]}" >"$output" || status=$?
cat "$output"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### Pacer: deployment of $service to $environment"
    echo '```'
    cat "$output"
    echo '```'
  } >>"$GITHUB_STEP_SUMMARY"
fi
[ "$status" -eq 0 ] || fail "pacer deployment record failed (exit $status); its message is above"
