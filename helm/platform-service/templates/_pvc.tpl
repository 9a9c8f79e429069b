{{- define "platform-service.pvc" -}}
{{- $data := .Values.persistence -}}
{{- if and $data.enabled (not $data.existingClaim) -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "platform-service.fullname" . }}-data
  labels:
    {{- include "platform-service.labels" . | nindent 4 }}
  annotations:
    # Uninstalling the release must not delete what users stored.
    helm.sh/resource-policy: keep
spec:
  accessModes:
    {{- toYaml $data.accessModes | nindent 4 }}
  {{- with $data.storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ $data.size }}
{{- end -}}
{{- end -}}
