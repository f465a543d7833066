{{/*
Egress rules the API and the workers share (network/egress.yaml): DNS, this release's Kafka and
Redis (or the external ones' ports), and networkPolicy.egress.extraTo.
*/}}
{{- define "spillway.egressCommon" -}}
{{- $redisPort := 6379 }}
{{- with .Values.redis.external.url }}
{{- $found := regexFind ":[0-9]+(/[0-9]*)?$" . | regexFind "[0-9]+" }}
{{- if $found }}{{ $redisPort = int $found }}{{ end }}
{{- end }}
# DNS, wherever the cluster runs it.
- ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- if .Values.kafka.create }}
# The Strimzi Kafka nodes of this release.
- to:
    - podSelector:
        matchLabels:
          strimzi.io/cluster: {{ include "spillway.kafkaCluster" . }}
          strimzi.io/kind: Kafka
  ports:
    # The listener's port, on the bootstrap Service and on every node after it.
    - port: {{ ternary 9093 9092 .Values.kafka.auth.enabled }}
{{- else }}
# The external Kafka: its ports, on any address (add networkPolicy.egress.extraTo to narrow).
- ports:
    {{- range splitList "," .Values.kafka.external.bootstrapServers }}
    - port: {{ regexFind "[0-9]+$" (trim .) | int }}
    {{- end }}
{{- end }}
{{- if .Values.redis.create }}
# This release's Redis.
- to:
    - podSelector:
        matchLabels:
          {{- include "spillway.selectorLabels" (dict "root" . "component" "redis") | nindent 10 }}
  ports:
    - port: 6379
{{- else }}
# The external Redis: its port, on any address.
- ports:
    - port: {{ $redisPort }}
{{- end }}
{{- with .Values.networkPolicy.egress.extraTo }}
# networkPolicy.egress.extraTo.
- to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end }}

{{/*
The ranges callbacks never reach unless callbacks.allowCidrs names them: the workers' address
policy refuses the same ones (services/shared/net/address-policy.ts; a chart test compares them).
Argument: "v4" or "v6".
*/}}
{{- define "spillway.internalRanges" -}}
{{- if eq . "v4" -}}
[0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24, 192.168.0.0/16, 224.0.0.0/4, 240.0.0.0/4]
{{- else -}}
["::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"]
{{- end }}
{{- end }}
