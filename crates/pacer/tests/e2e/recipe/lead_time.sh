REPO="${{ github.repository }}"
FIRST_COMMIT_TS=$(git log --reverse --format="%ct" origin/main..HEAD | head -1)
DEPLOY_TS=$(date +%s)
LEAD_TIME=$((DEPLOY_TS - FIRST_COMMIT_TS))
cat <<EOF | curl --data-binary @- http://pushgateway:9091/metrics/job/dora/instance/${REPO//\//_}
# TYPE dora_lead_time_seconds gauge
dora_lead_time_seconds{repo="${REPO}",env="production"} ${LEAD_TIME}
EOF
