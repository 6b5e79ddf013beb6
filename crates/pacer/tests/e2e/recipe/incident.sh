DURATION=$((RESOLVED_AT - TRIGGERED_AT))
cat <<EOF | curl --data-binary @- http://pushgateway:9091/metrics/job/dora/instance/incident-${INCIDENT_ID}
# TYPE dora_incident_duration_seconds gauge
dora_incident_duration_seconds{id="${INCIDENT_ID}"} ${DURATION}
# TYPE dora_incident_caused_by_deploy gauge
dora_incident_caused_by_deploy{id="${INCIDENT_ID}"} ${CAUSED_BY_DEPLOY}
EOF
