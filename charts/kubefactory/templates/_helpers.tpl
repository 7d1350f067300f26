{{/* Names, labels and the operator's settings file. */}}

{{- define "kubefactory.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's name for its objects: "<release>-kubefactory", or just the release name when it already says kubefactory. */}}
{{- define "kubefactory.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped objects carry the namespace too: two releases of one name in two namespaces must not share them. */}}
{{- define "kubefactory.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "kubefactory.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "kubefactory.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubefactory.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kubefactory.labels" -}}
{{ include "kubefactory.selectorLabels" . }}
app.kubernetes.io/part-of: kubefactory
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubefactory.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubefactory.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect their leader with (in the release's namespace). */}}
{{- define "kubefactory.leaseName" -}}
{{- include "kubefactory.fullname" . }}
{{- end }}

{{- define "kubefactory.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The operator's settings file (docs/operator.md): .Values.settings plus what the chart itself decides. */}}
{{- define "kubefactory.config" -}}
{{- $owned := dict
  "namespaces" .Values.namespaces
  "leaderElection" true
  "leaseName" (include "kubefactory.leaseName" .)
  "leaseNamespace" .Release.Namespace
  "leaseDurationSeconds" .Values.leaderElection.leaseDurationSeconds
  "renewDeadlineSeconds" .Values.leaderElection.renewDeadlineSeconds
  "retryPeriodSeconds" .Values.leaderElection.retryPeriodSeconds
  "healthPort" .Values.health.port
  "metricsPort" .Values.metrics.port
-}}
{{- toYaml (merge $owned (deepCopy .Values.settings)) }}
{{- end }}
