{{/*
Names and labels. Every template takes its names from here so a rename is one edit.
*/}}

{{- define "spillway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated at 63 characters because some Kubernetes name fields
(DNS-1123 labels, e.g. Service names) are limited to that. Component suffixes are added by
"spillway.componentName", which truncates again.
*/}}
{{- define "spillway.fullname" -}}
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

{{/* "<fullname>-<component>", within 63 characters. Call with (dict "root" $ "component" "api"). */}}
{{- define "spillway.componentName" -}}
{{- $suffix := printf "-%s" .component }}
{{- printf "%s%s" (include "spillway.fullname" .root | trunc (int (sub 63 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "spillway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: immutable on Deployments, so nothing that changes between releases. */}}
{{- define "spillway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spillway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "spillway.labels" -}}
helm.sh/chart: {{ include "spillway.chart" .root }}
{{ include "spillway.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: spillway
{{- end }}

{{/*
Kafka names, derived from `queue` exactly as services/shared/kafka/names.ts derives them
(tests/chart compares the rendered KafkaTopics with kafkaNames()).
*/}}
{{- define "spillway.tasksTopic" -}}spillway.{{ .Values.queue }}.tasks{{- end }}
{{- define "spillway.workerGroup" -}}spillway.{{ .Values.queue }}.workers{{- end }}
{{/*
Lanes, highest priority first, overflow last (names.ts: laneNames): each a topic and the worker
group draining it. The normal lane keeps the names above, from before priorities.
*/}}
{{- define "spillway.lanes" -}}
{{- range list "high" "normal" "low" "overflow" }}
{{- $suffix := ternary "" (printf ".%s" .) (eq . "normal") }}
- name: {{ . }}
  topic: spillway.{{ $.Values.queue }}.tasks{{ $suffix }}
  group: spillway.{{ $.Values.queue }}.workers{{ $suffix }}
  resource: tasks{{ $suffix | replace "." "-" }}
{{- end }}
{{- end }}
{{- define "spillway.schedulerGroup" -}}spillway.{{ .Values.queue }}.scheduler{{- end }}
{{- define "spillway.deadLetterTopic" -}}spillway.{{ .Values.queue }}.dead-letters{{- end }}
{{/* Delay tiers, shortest first, with their hold time (names.ts: DELAY_TIER_MS). */}}
{{- define "spillway.delayTiers" -}}
{{- $tiers := list (list "1s" 1000) (list "10s" 10000) (list "1m" 60000) (list "10m" 600000) (list "1h" 3600000) }}
{{- range $tiers }}
- topic: spillway.{{ $.Values.queue }}.delay-{{ index . 0 }}
  delayMs: {{ index . 1 }}
{{- end }}
{{- end }}

{{/* The Strimzi cluster's name; its bootstrap Service is "<name>-kafka-bootstrap". */}}
{{- define "spillway.kafkaCluster" -}}
{{- include "spillway.componentName" (dict "root" . "component" "kafka") }}
{{- end }}

{{/* KAFKA_BROKERS: the Strimzi bootstrap Service, or the external address. */}}
{{- define "spillway.kafkaBootstrap" -}}
{{- if .Values.kafka.create }}
{{- $port := ternary 9093 9092 .Values.kafka.auth.enabled }}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" (include "spillway.kafkaCluster" .) .Release.Namespace (int $port) }}
{{- else }}
{{- required "kafka.external.bootstrapServers is required when kafka.create is false" .Values.kafka.external.bootstrapServers }}
{{- end }}
{{- end }}

{{/* The KafkaUser both processes authenticate as; Strimzi writes its password to a Secret of the same name. */}}
{{- define "spillway.kafkaUser" -}}
{{- include "spillway.componentName" (dict "root" . "component" "app") }}
{{- end }}

{{/* Partitions of the tasks topic: the one number maxReplicaCount is checked against. */}}
{{- define "spillway.taskPartitions" -}}
{{- .Values.kafka.topics.taskPartitions }}
{{- end }}

{{- define "spillway.redisName" -}}
{{- include "spillway.componentName" (dict "root" . "component" "redis") }}
{{- end }}

{{/* Secret and key holding the Redis password (ours, or the user's for an external Redis). */}}
{{- define "spillway.redisSecretName" -}}
{{- if .Values.redis.create }}
{{- default (include "spillway.redisName" .) .Values.redis.auth.existingSecret }}
{{- else }}
{{- .Values.redis.external.existingSecret }}
{{- end }}
{{- end }}

{{/*
Non-empty when the chart generates the value itself, i.e. names no Secret of the operator's own.
generatedSecrets.mode says how: rendered into the manifest, or made in the cluster by a hook Job.
*/}}
{{- define "spillway.generatesRedisPassword" -}}
{{- if and .Values.redis.create (not .Values.redis.auth.existingSecret) }}yes{{ end }}
{{- end }}
{{- define "spillway.generatesApiKey" -}}
{{- if and .Values.api.auth.enabled (not .Values.api.auth.existingSecret) }}yes{{ end }}
{{- end }}

{{- define "spillway.apiKeysSecretName" -}}
{{- default (include "spillway.componentName" (dict "root" . "component" "api-keys")) .Values.api.auth.existingSecret }}
{{- end }}

{{- define "spillway.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "spillway.serviceAccountName" -}}
{{- $sa := index .root.Values .component "serviceAccount" }}
{{- if $sa.create }}
{{- default (include "spillway.componentName" .) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/*
Environment both processes share. REDIS_URL embeds the password through dependent variable
expansion: $(REDIS_PASSWORD) is defined first, from the Secret, so the password never
appears in the rendered manifest.
*/}}
{{- define "spillway.commonEnv" -}}
- name: SPILLWAY_QUEUE
  value: {{ .Values.queue | quote }}
- name: KAFKA_BROKERS
  value: {{ include "spillway.kafkaBootstrap" . | quote }}
# With Strimzi, KafkaTopics own the topics (partitions, retention): the services must not create
# them first with their own defaults.
- name: KAFKA_CREATE_TOPICS
  value: {{ and (not .Values.kafka.create) .Values.kafka.external.createTopics | quote }}
- name: KAFKA_TASK_PARTITIONS
  value: {{ include "spillway.taskPartitions" . | quote }}
- name: KAFKA_CLIENT_ID
  value: {{ include "spillway.fullname" . | quote }}
- name: TASK_TTL_SECONDS
  value: {{ .Values.taskTtlSeconds | quote }}
- name: FINISHED_TASK_TTL_SECONDS
  value: {{ .Values.finishedTaskTtlSeconds | quote }}
- name: DEAD_LETTER_TTL_SECONDS
  value: {{ .Values.deadLetterTtlSeconds | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- if and .Values.kafka.create .Values.kafka.auth.enabled }}
- name: KAFKA_SASL_MECHANISM
  value: scram-sha-512
- name: KAFKA_SASL_USERNAME
  value: {{ include "spillway.kafkaUser" . | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "spillway.kafkaUser" . }}
      key: password
{{- end }}
{{- $secret := include "spillway.redisSecretName" . }}
{{- if $secret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ ternary .Values.redis.auth.existingSecretKey .Values.redis.external.existingSecretKey .Values.redis.create }}
{{- end }}
- name: REDIS_URL
{{- if .Values.redis.create }}
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s.%s.svc:6379" (include "spillway.redisName" .) .Release.Namespace | quote }}
{{- else if $secret }}
  value: {{ required "redis.external.url is required when redis.create is false" .Values.redis.external.url | replace "://" "://:$(REDIS_PASSWORD)@" | quote }}
{{- else }}
  value: {{ required "redis.external.url is required when redis.create is false" .Values.redis.external.url | quote }}
{{- end }}
{{- end }}

{{/* Container hardening shared by every container the chart runs. */}}
{{- define "spillway.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* uid/gid 1000 is the `node` user of the node:20 base images. */}}
{{- define "spillway.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "spillway.kafkaPeers" -}}
{{- if .Values.networkPolicy.enabled }}
# Strimzi turns these into the listener's NetworkPolicy: only Spillway's pods and KEDA's
# operator (it reads the consumer group's lag) in the namespaces networkPolicy.kedaNamespaces
# names reach the client port. A pod label alone would admit a pod so labelled in any namespace.
networkPolicyPeers:
  - podSelector:
      matchLabels:
        app.kubernetes.io/name: {{ include "spillway.name" . }}
        app.kubernetes.io/instance: {{ .Release.Name }}
  {{- with .Values.networkPolicy.kedaNamespaces }}
  - namespaceSelector:
      matchExpressions:
        - { key: kubernetes.io/metadata.name, operator: In, values: {{ toJson . }} }
    podSelector:
      matchLabels:
        app.kubernetes.io/name: keda-operator
  {{- end }}
{{- end }}
{{- end }}

{{/* The Prometheus `job` label of each component: fixed by relabeling so the alert rules and the dashboard can name it. */}}
{{- define "spillway.metricsJob" -}}
{{- include "spillway.componentName" . }}
{{- end }}

{{/* The HPA KEDA creates for the workers' ScaledObject: "keda-hpa-<ScaledObject>" (permissions.ts kedaHpaName). */}}
{{- define "spillway.workerHpaName" -}}
keda-hpa-{{ include "spillway.componentName" (dict "root" . "component" "worker") }}
{{- end }}

{{/*
CALLBACK_ALLOW_HOSTS and CALLBACK_ALLOW_CIDRS from one value: the API refuses internal callback
URLs at submission and the workers check every address they connect to, so both must agree.
*/}}
{{- define "spillway.callbackAllowEnv" -}}
{{- with .Values.callbacks.allowHosts }}
- name: CALLBACK_ALLOW_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.callbacks.allowCidrs }}
- name: CALLBACK_ALLOW_CIDRS
  value: {{ join "," . | quote }}
{{- end }}
{{- end }}

{{/*
A Kubernetes API token for one container of a pod whose automountServiceAccountToken stays false:
what automounting would give (a short-lived, rotated token, the cluster CA and the namespace),
mounted where client libraries look for it (spillway.kubeApiAccessMount).
*/}}
{{- define "spillway.kubeApiAccessVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken: { path: token, expirationSeconds: 3607 }
      - configMap: { name: kube-root-ca.crt, items: [{ key: ca.crt, path: ca.crt }] }
      - downwardAPI:
          items:
            - path: namespace
              fieldRef: { apiVersion: v1, fieldPath: metadata.namespace }
{{- end }}
{{- define "spillway.kubeApiAccessMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}

{{/*
Non-empty when this render can read the cluster: the release's API Deployment, which every
install creates, is visible. Without it an upgrade cannot tell a Secret it must keep from one it
may generate (lookup answers empty to a render without cluster access).
*/}}
{{- define "spillway.clusterVisible" -}}
{{- if lookup "apps/v1" "Deployment" .Release.Namespace (include "spillway.componentName" (dict "root" . "component" "api")) }}yes{{ end }}
{{- end }}

{{/*
A number from values as the services read it: whole numbers without an exponent (YAML's numbers
are floats to Helm, and 1000000 would print as 1e+06), others as they are (2.5).
*/}}
{{- define "spillway.plainNumber" -}}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}
