{{/*
Plain settings, each named <envPrefix><FIELD> after kit.settings.ServiceSettings.
Secrets never go here: see "platform-service.secretEnv".
*/}}
{{- define "platform-service.configmap" -}}
{{- $p := .Values.envPrefix -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "platform-service.fullname" . }}
  labels:
    {{- include "platform-service.labels" . | nindent 4 }}
data:
  {{ $p }}ENVIRONMENT: {{ .Values.settings.environment | quote }}
  {{ $p }}LOG_LEVEL: {{ .Values.settings.logLevel | quote }}
  {{ $p }}HTTP_HOST: "0.0.0.0"
  {{ $p }}HTTP_PORT: {{ .Values.port | quote }}
  {{ $p }}KAFKA_BOOTSTRAP_SERVERS: {{ required "external.kafkaBootstrapServers is required" .Values.external.kafkaBootstrapServers | quote }}
  {{ $p }}REDIS_URL: {{ required "external.redisUrl is required" .Values.external.redisUrl | quote }}
  {{ $p }}JWKS_URL: {{ required "external.jwksUrl is required" .Values.external.jwksUrl | quote }}
  {{- with .Values.settings.dbSchema }}
  {{ $p }}DB_SCHEMA: {{ . | quote }}
  {{- end }}
  {{- with .Values.settings.otlpEndpoint }}
  {{ $p }}OTLP_ENDPOINT: {{ . | quote }}
  {{- end }}
  {{- range $name, $value := .Values.env }}
  {{ $name }}: {{ $value | quote }}
  {{- end }}
{{- end -}}

{{/*
Container env entries that read secrets from the existing Secret `secrets.existingSecret`:
`secrets.keys` maps a settings field (DATABASE_URL, SERVICE_TOKEN, ...) to a key of it.
*/}}
{{- define "platform-service.secretEnv" -}}
{{- $p := .Values.envPrefix -}}
{{- $secret := required "secrets.existingSecret is required" .Values.secrets.existingSecret -}}
{{- range $field, $key := .Values.secrets.keys }}
- name: {{ $p }}{{ $field }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end -}}
