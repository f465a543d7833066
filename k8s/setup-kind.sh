#!/usr/bin/env bash
# Creates a local kind cluster and installs what charts/spillway expects: the Strimzi and KEDA
# operators, kube-prometheus-stack (Prometheus operator, Grafana with its dashboard sidecar,
# kube-state-metrics) and ingress-nginx. Needs docker (or podman), kind and helm on PATH
# (scripts/helm.sh prints a helm it builds when there is none).
#   k8s/setup-kind.sh            # cluster "spillway"; KIND_CLUSTER overrides
# Versions are pinned so a setup made today behaves like one made next month; Strimzi must be
# 0.49+ for Kafka 4.1.1 and the kafka.strimzi.io/v1 API the chart writes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STRIMZI_VERSION=0.49.1
KEDA_VERSION=2.20.2
KUBE_PROMETHEUS_STACK_VERSION=79.7.1
INGRESS_NGINX_VERSION=4.14.0
cluster=${KIND_CLUSTER:-spillway}

helm=$(command -v helm || bash scripts/helm.sh)
for tool in kind kubectl; do
  command -v "$tool" >/dev/null || { echo "k8s/setup-kind.sh: $tool is required" >&2; exit 1; }
done

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --config k8s/kind-config.yaml

"$helm" repo add strimzi https://strimzi.io/charts/ >/dev/null
"$helm" repo add kedacore https://kedacore.github.io/charts >/dev/null
"$helm" repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
"$helm" repo add ingress-nginx https://kubernetes.github.io/ingress-nginx >/dev/null
"$helm" repo update >/dev/null

# Strimzi watches every namespace, so the chart can go wherever you install it.
"$helm" upgrade --install strimzi strimzi/strimzi-kafka-operator --version "$STRIMZI_VERSION" \
  --namespace strimzi --create-namespace --set watchAnyNamespace=true --wait
"$helm" upgrade --install keda kedacore/keda --version "$KEDA_VERSION" \
  --namespace keda --create-namespace --wait
# Select every ServiceMonitor, PodMonitor and PrometheusRule, not only those labelled with
# this release, so the chart needs no monitoring.labels here.
"$helm" upgrade --install monitoring prometheus-community/kube-prometheus-stack \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace monitoring --create-namespace \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
  --set grafana.sidecar.dashboards.searchNamespace=ALL --wait
"$helm" upgrade --install ingress-nginx ingress-nginx/ingress-nginx --version "$INGRESS_NGINX_VERSION" \
  --namespace ingress-nginx --create-namespace --wait

echo "kind cluster '$cluster' is ready: run 'skaffold dev -p kind' from the repository root."
