{{/* Chart name, truncated to the 63 characters a label value may have. */}}
{{- define "cors-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name: the release name, or release-chart when the release name lacks the chart's. */}}
{{- define "cors-authz.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cors-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cors-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cors-authz.labels" -}}
{{ include "cors-authz.selectorLabels" . }}
app.kubernetes.io/component: ext-authz
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Labels of Istio objects: the common ones plus istio.io/rev when a revision is set. */}}
{{- define "cors-authz.istioLabels" -}}
{{ include "cors-authz.labels" . }}
{{- with .Values.istio.revision }}
istio.io/rev: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The ConfigMap holding the policy: the user's, or the one this chart renders. */}}
{{- define "cors-authz.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "cors-authz.fullname" .)) .Values.policy.existingConfigMap -}}
{{- end -}}

{{/* The Service's cluster DNS name, as proxies address it. */}}
{{- define "cors-authz.serviceHost" -}}
{{- printf "%s.%s.svc.cluster.local" (include "cors-authz.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Fails when a Prometheus Operator object is asked for and the cluster has no such API. */}}
{{- define "cors-authz.requireMonitoringAPI" -}}
{{- if not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
{{- fail "metrics.serviceMonitor/prometheusRule need the monitoring.coreos.com/v1 API (Prometheus Operator CRDs); with helm template pass --api-versions monitoring.coreos.com/v1" -}}
{{- end -}}
{{- end -}}
