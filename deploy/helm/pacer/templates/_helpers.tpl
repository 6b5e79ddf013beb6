{{/* Names and labels shared by every object of the release. */}}
{{- define "pacer.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pacer.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pacer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pacer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pacer.labels" -}}
{{ include "pacer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pacer.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
Refuse settings that cannot work, at render time rather than as a crash-looping pod:
SQLite is one file written by one process, so several replicas need PostgreSQL.
*/}}
{{- define "pacer.validate" -}}
{{- if not (has .Values.database.backend (list "sqlite" "postgres")) -}}
{{- fail (printf "database.backend = %q: use \"sqlite\" (one replica) or \"postgres\"" .Values.database.backend) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.database.backend "postgres") -}}
{{- fail (printf "replicaCount = %d needs database.backend = \"postgres\": SQLite is one file written by one process; set database.backend=postgres and database.existingSecret, or replicaCount=1" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (eq .Values.database.backend "postgres") (not .Values.database.existingSecret) -}}
{{- fail "database.backend = \"postgres\" needs database.existingSecret: the name of a Secret whose key database.secretKey holds the postgres:// URL" -}}
{{- end -}}
{{- end -}}
