{{- define "junction.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "junction.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "junction.selectorLabels" -}}
app.kubernetes.io/name: {{ include "junction.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "junction.labels" -}}
{{ include "junction.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "junction.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "junction.usersSecret" -}}
{{- if .Values.auth.existingSecret -}}{{ .Values.auth.existingSecret }}{{- else if .Values.auth.usersFile -}}{{ include "junction.fullname" . }}-users{{- end -}}
{{- end -}}

{{/* The broker's configuration file: what the chart decides (listeners on
every interface, paths in the pod, store, HA, TLS, users), with
.Values.config merged over it. */}}
{{- define "junction.config" -}}
{{- $listeners := dict -}}
{{- range $name, $p := .Values.protocols -}}
{{- $_ := set $listeners $name (ternary (printf "0.0.0.0:%v" $p.port) "off" (ne $p.enabled false)) -}}
{{- end -}}
{{- if .Values.tls.secretName -}}
{{- range $name, $p := .Values.tlsProtocols -}}
{{- $_ := set $listeners $name (printf "0.0.0.0:%v" $p.port) -}}
{{- end -}}
{{- end -}}
{{- $cfg := dict "data" "/var/lib/junction" "listeners" $listeners -}}
{{- if eq .Values.store.type "postgres" -}}
{{- $_ := set $cfg "store" (dict "type" "postgres" "url-file" "/etc/junction/postgres/url") -}}
{{- else -}}
{{- $_ := set $cfg "store" (dict "type" "journal" "sync" .Values.store.sync) -}}
{{- end -}}
{{- if .Values.ha.enabled -}}
{{- $_ := set $cfg "ha" (dict "role" "live-or-backup") -}}
{{- end -}}
{{- if .Values.tls.secretName -}}
{{- $tls := dict "cert-file" "/etc/junction/tls/tls.crt" "key-file" "/etc/junction/tls/tls.key" "client-auth" .Values.tls.clientAuth -}}
{{- if ne .Values.tls.clientAuth "none" -}}
{{- $_ := set $tls "client-ca-file" "/etc/junction/tls/ca.crt" -}}
{{- end -}}
{{- $_ := set $cfg "tls" $tls -}}
{{- end -}}
{{- $cfg = mustMergeOverwrite $cfg (deepCopy .Values.config) -}}
{{- if include "junction.usersSecret" . -}}
{{- $sec := get $cfg "security" | default dict -}}
{{- $_ := set $sec "users-file" "/etc/junction/users/users.yaml" -}}
{{- $_ := set $cfg "security" $sec -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
