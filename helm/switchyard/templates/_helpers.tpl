{{/* Chart name, overridable. */}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified release name. Truncated to 46 characters so that "<fullname>-webhook-dispatch"
still fits the 63-character limit on Kubernetes names.
*/}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object of the release. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- end }}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Per-service helpers take a dict: (dict "root" $ "name" "router").
*/}}
{{- define "switchyard.serviceFullname" -}}
{{- printf "%s-%s" (include "switchyard.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchyard.serviceLabels" -}}
{{ include "switchyard.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "switchyard.serviceSelectorLabels" -}}
{{ include "switchyard.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The image of one service: its own image values win over the global ones. */}}
{{- define "switchyard.image" -}}
{{- $svc := index .root.Values.services .name }}
{{- $image := merge (deepCopy ($svc.image | default dict)) .root.Values.image }}
{{- printf "%s:%s" $image.repository (toString ($image.tag | default .root.Chart.AppVersion)) }}
{{- end }}

{{- define "switchyard.imagePullPolicy" -}}
{{- $svc := index .root.Values.services .name }}
{{- $image := merge (deepCopy ($svc.image | default dict)) .root.Values.image }}
{{- $image.pullPolicy | default "IfNotPresent" }}
{{- end }}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret and key DATABASE_URL is read from. */}}
{{- define "switchyard.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "switchyard.fullname" .) }}
{{- end }}
{{- end }}

{{- define "switchyard.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecretKey | default "DATABASE_URL" }}
{{- else }}
{{- "DATABASE_URL" }}
{{- end }}
{{- end }}

{{/* The Secret holding the services' NATS .creds, or nothing when NATS runs without auth. */}}
{{- define "switchyard.natsCredsSecretName" -}}
{{- if .Values.nats.credentials.existingSecret }}
{{- .Values.nats.credentials.existingSecret }}
{{- else if .Values.nats.credentials.creds }}
{{- printf "%s-nats-credentials" (include "switchyard.fullname" .) }}
{{- end }}
{{- end }}

{{/* KEDA is on for a service when it is globally enabled and the service consumes a stream. */}}
{{- define "switchyard.kedaEnabled" -}}
{{- $svc := index .root.Values.services .name }}
{{- if and .root.Values.autoscaling.keda.enabled $svc.consumes }}true{{- end }}
{{- end }}

{{/*
Durable consumer name, as @switchyard/schema's durableName builds it: the service name with
dashes turned into underscores, then the tenant (webhook-dispatch + acme → webhook_dispatch_acme).
*/}}
{{- define "switchyard.durableName" -}}
{{- printf "%s_%s" (.service | replace "-" "_") .tenant }}
{{- end }}

{{/* The media service's storage settings (services.media.storage) as MEDIA_* variables. */}}
{{- define "switchyard.mediaStorageEnv" -}}
- name: MEDIA_STORE
  value: {{ .type | quote }}
{{- if eq .type "s3" }}
{{- if not .s3.bucket }}
{{- fail "services.media.storage.s3.bucket: set the bucket media is stored in (or storage.type=fs with a mounted volume, or services.media.enabled=false)" }}
{{- end }}
- name: MEDIA_S3_BUCKET
  value: {{ .s3.bucket | quote }}
- name: MEDIA_S3_REGION
  value: {{ .s3.region | quote }}
{{- with .s3.endpoint }}
- name: MEDIA_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: MEDIA_S3_FORCE_PATH_STYLE
  value: {{ .s3.forcePathStyle | toString | quote }}
{{- with .s3.prefix }}
- name: MEDIA_S3_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with .s3.credentialsSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{- else if eq .type "fs" }}
- name: MEDIA_FS_DIR
  value: {{ .fs.dir | quote }}
{{- else }}
{{- fail (printf "services.media.storage.type must be s3 or fs, not %q" .type) }}
{{- end }}
{{- end }}
