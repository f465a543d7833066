{{/*
The Secrets the generator handles in generatedSecrets.mode `job`, as services/secrets-init/config.ts
reads them (SECRETS_INIT_SECRETS): name, key, length and the labels render mode's Secret would have.
Lengths are render mode's; alphanumeric, as the password goes into REDIS_URL unescaped.
Call with (dict "root" $ "redis" true "apiKey" true): which of the two to list.
*/}}
{{- define "spillway.generatedSecretSpecs" -}}
{{- $root := .root }}
{{- $specs := list }}
{{- if and .redis (include "spillway.generatesRedisPassword" $root) }}
{{- $specs = append $specs (dict "name" (include "spillway.redisSecretName" $root) "key" $root.Values.redis.auth.existingSecretKey "length" 32 "labels" (include "spillway.labels" (dict "root" $root "component" "redis") | fromYaml)) }}
{{- end }}
{{- if and .apiKey (include "spillway.generatesApiKey" $root) }}
{{- $specs = append $specs (dict "name" (include "spillway.apiKeysSecretName" $root) "key" $root.Values.api.auth.existingSecretKey "length" 40 "labels" (include "spillway.labels" (dict "root" $root "component" "api") | fromYaml)) }}
{{- end }}
{{- toJson $specs }}
{{- end }}

{{/*
One run of the generator as a Helm hook: its ServiceAccount, a Role with exactly the verbs
SECRETS_INIT_PERMISSIONS lists for the action (tests/chart compares them), the RoleBinding, and the
Job. The RBAC objects are hooks of a lower weight, so they exist before the Job, under Helm and
under Argo CD (hook-weight is its sync wave), and all four go once it succeeded: nothing in the
release keeps the right to write Secrets. A failed Job stays for `kubectl logs` (and Helm prints
its log), until the next run replaces it.
Call with (dict "root" $ "component" "secrets-init" "hook" "pre-install,pre-upgrade" "action" "ensure" "specs" <json>).
*/}}
{{- define "spillway.secretsHook" -}}
{{- $root := .root }}
{{- $c := dict "root" $root "component" .component }}
{{- $name := include "spillway.componentName" $c }}
{{- $names := list }}
{{- range (.specs | fromJsonArray) }}{{ $names = append $names .name }}{{ end }}
{{- $rbacHook := dict "hook" .hook "weight" "-10" }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "spillway.labels" $c | nindent 4 }}
  annotations:
    {{- include "spillway.hookAnnotations" $rbacHook | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  labels:
    {{- include "spillway.labels" $c | nindent 4 }}
  annotations:
    {{- include "spillway.hookAnnotations" $rbacHook | nindent 4 }}
rules:
  {{- if eq .action "ensure" }}
  # A create cannot be limited to names (RBAC does not see the body); a Secret it did not create
  # it can only read and complete by name.
  - apiGroups: ['']
    resources: [secrets]
    verbs: [create]
  - apiGroups: ['']
    resources: [secrets]
    resourceNames: {{ toJson $names }}
    verbs: [get, patch]
  {{- else }}
  - apiGroups: ['']
    resources: [secrets]
    resourceNames: {{ toJson $names }}
    verbs: [get, delete]
  {{- end }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "spillway.labels" $c | nindent 4 }}
  annotations:
    {{- include "spillway.hookAnnotations" $rbacHook | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $root.Release.Namespace }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  labels:
    {{- include "spillway.labels" $c | nindent 4 }}
  annotations:
    {{- include "spillway.hookAnnotations" (dict "hook" .hook "weight" "0") | nindent 4 }}
    # Helm prints the generator's log when it fails: the message says what to fix.
    helm.sh/hook-output-log-policy: hook-failed
spec:
  # A few seconds' work; retried for a transient API server error (every run is idempotent).
  backoffLimit: 2
  # Fails the hook clearly (e.g. an image that cannot be pulled) instead of waiting for ever.
  activeDeadlineSeconds: 300
  template:
    metadata:
      labels:
        {{- include "spillway.labels" $c | nindent 8 }}
    spec:
      restartPolicy: Never
      # One attempt: the image pull and a few seconds' work; a stuck one is stopped and retried.
      activeDeadlineSeconds: 180
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "spillway.podSecurityContext" $root | nindent 8 }}
      containers:
        - name: {{ .component }}
          # The generator ships in the API image (dist/services/secrets-init): no other image to pull.
          image: {{ include "spillway.image" (dict "root" $root "image" $root.Values.api.image) | quote }}
          imagePullPolicy: {{ $root.Values.api.image.pullPolicy }}
          command: [node, dist/services/secrets-init/main.js]
          env:
            - name: SECRETS_INIT_ACTION
              value: {{ .action }}
            - name: SECRETS_INIT_NAMESPACE
              valueFrom:
                fieldRef: { fieldPath: metadata.namespace }
            - name: SECRETS_INIT_SECRETS
              value: {{ .specs | quote }}
            - name: LOG_LEVEL
              value: {{ $root.Values.logLevel | quote }}
          resources:
            {{- toYaml $root.Values.generatedSecrets.job.resources | nindent 12 }}
          securityContext:
            {{- include "spillway.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "spillway.kubeApiAccessMount" $root | nindent 12 }}
      volumes:
        {{- include "spillway.kubeApiAccessVolume" $root | nindent 8 }}
      {{- /* Scheduled where the API's pods may run: it is the API's image. */}}
      {{- with $root.Values.api.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.api.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* A hook's annotations: its events, its weight (Argo CD: sync wave), replaced on each run, gone once it succeeded. */}}
{{- define "spillway.hookAnnotations" -}}
helm.sh/hook: {{ .hook }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}
