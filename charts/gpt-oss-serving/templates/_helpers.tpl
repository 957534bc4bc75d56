{{/* vim: set filetype=mustache: */}}

{{/* Chart name, overridable. */}}
{{- define "gpt-oss-serving.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name prefix of every object: the release name unless overridden. Not "<release>-<chart>":
the RayService's name decides KubeRay's Serve Service name (<fullname>-serve-svc), which the
gateway's base URL names. Cut to 40 characters because KubeRay appends suffixes of its own.
*/}}
{{- define "gpt-oss-serving.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "gpt-oss-serving.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gpt-oss-serving.instance" -}}
{{- default .Release.Name .Values.labels.instance -}}
{{- end -}}

{{/* app.kubernetes.io/name of the serving side and of the gateway. */}}
{{- define "gpt-oss-serving.serveName" -}}gpt-oss-serve{{- end -}}
{{- define "gpt-oss-serving.gatewayName" -}}gpt-oss-gateway{{- end -}}

{{/*
Labels of an object: the cost labels, app.kubernetes.io/* and helm.sh/chart.
Call with (dict "root" $ "name" <app name> "component" <component>).
*/}}
{{- define "gpt-oss-serving.labels" -}}
{{- $root := .root -}}
{{- $labels := dict -}}
{{- range $key, $value := $root.Values.labels.cost -}}
{{- $_ := set $labels $key (toString $value) -}}
{{- end -}}
{{- $_ := set $labels "app.kubernetes.io/name" .name -}}
{{- $_ := set $labels "app.kubernetes.io/instance" (include "gpt-oss-serving.instance" $root) -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" $root.Values.labels.partOf -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" $root.Values.labels.managedBy -}}
{{- $_ := set $labels "app.kubernetes.io/component" .component -}}
{{- $_ := set $labels "helm.sh/chart" (include "gpt-oss-serving.chart" $root) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
Labels of objects inside rayClusterConfig (pod templates, head Service): the same, less
helm.sh/chart, because KubeRay hashes rayClusterConfig and any change there starts a cluster
upgrade (a second set of GPUs with NewCluster): a chart version bump must not.
*/}}
{{- define "gpt-oss-serving.rayClusterLabels" -}}
{{- $labels := include "gpt-oss-serving.labels" . | fromYaml -}}
{{- $_ := unset $labels "helm.sh/chart" -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
Labels of a Ray pod template: the above, less app.kubernetes.io/name. KubeRay labels its pods
`app.kubernetes.io/name: kuberay` and has looked services up by that value; overriding it broke
head-service lookups (ray-project/kuberay#2147, #2564). The actual pods carry the key with
KubeRay's value.
*/}}
{{- define "gpt-oss-serving.rayPodLabels" -}}
{{- $labels := include "gpt-oss-serving.rayClusterLabels" . | fromYaml -}}
{{- $_ := unset $labels "app.kubernetes.io/name" -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* Selector of the Ray pods of one component (ray-head or ray-worker): stable labels only. */}}
{{- define "gpt-oss-serving.raySelector" -}}
app.kubernetes.io/instance: {{ include "gpt-oss-serving.instance" .root | quote }}
app.kubernetes.io/part-of: {{ .root.Values.labels.partOf | quote }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector of the gateway pods. */}}
{{- define "gpt-oss-serving.gatewaySelector" -}}
app.kubernetes.io/name: {{ include "gpt-oss-serving.gatewayName" . }}
app.kubernetes.io/instance: {{ include "gpt-oss-serving.instance" . | quote }}
app.kubernetes.io/component: gateway
{{- end -}}

{{/* Image reference: repository:tag, repository:tag@digest, or repository@digest when only a digest is pinned. */}}
{{- define "gpt-oss-serving.image" -}}
{{- if and .tag .digest -}}
{{- printf "%s:%s@%s" .repository .tag .digest -}}
{{- else if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "gpt-oss-serving.rayImage" -}}
{{- $image := .Values.ray.image -}}
{{- include "gpt-oss-serving.image" (dict "repository" $image.repository "tag" (printf "%s-%s" .Values.ray.version $image.variant) "digest" $image.digest) -}}
{{- end -}}

{{- define "gpt-oss-serving.gatewayImage" -}}
{{- include "gpt-oss-serving.image" .Values.gateway.image -}}
{{- end -}}

{{/* Pod security context shared by every Ray pod. */}}
{{- define "gpt-oss-serving.rayPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.ray.runAsUser }}
runAsGroup: {{ .Values.ray.runAsGroup }}
fsGroup: {{ .Values.ray.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context shared by every Ray container (KubeRay copies it into the
init container it injects into worker pods). */}}
{{- define "gpt-oss-serving.rayContainerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .Values.ray.readOnlyRootFilesystem }}
runAsNonRoot: true
runAsUser: {{ .Values.ray.runAsUser }}
runAsGroup: {{ .Values.ray.runAsGroup }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Environment of every Ray container. Caches go to the emptyDir at /home/ray/.cache because the
root filesystem is read-only; usage reporting is off (no egress for it).
*/}}
{{- define "gpt-oss-serving.rayEnv" -}}
- name: HOME
  value: /home/ray
- name: XDG_CACHE_HOME
  value: /home/ray/.cache
- name: XDG_CONFIG_HOME
  value: /home/ray/.cache/config
- name: HF_HOME
  value: /home/ray/.cache/huggingface
- name: VLLM_CACHE_ROOT
  value: /home/ray/.cache/vllm
- name: TRITON_CACHE_DIR
  value: /home/ray/.cache/triton
- name: TORCHINDUCTOR_CACHE_DIR
  value: /home/ray/.cache/torchinductor
- name: CUDA_CACHE_PATH
  value: /home/ray/.cache/nv
- name: NUMBA_CACHE_DIR
  value: /home/ray/.cache/numba
- name: VLLM_NO_USAGE_STATS
  value: "1"
- name: DO_NOT_TRACK
  value: "1"
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
{{- if .Values.model.offline }}
- name: HF_HUB_OFFLINE
  value: "1"
- name: TRANSFORMERS_OFFLINE
  value: "1"
{{- end }}
{{- if .Values.tiktoken.enabled }}
- name: TIKTOKEN_ENCODINGS_BASE
  value: /home/ray/tiktoken
{{- end }}
{{- end -}}

{{/* Writable directories of a Ray container (mounts). */}}
{{- define "gpt-oss-serving.rayVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: cache
  mountPath: /home/ray/.cache
{{- end -}}

{{/* vLLM engine arguments under vLLM's names; unset optional ones are left out. */}}
{{- define "gpt-oss-serving.engineKwargs" -}}
{{- $engine := .Values.serve.engine -}}
{{- $kwargs := deepCopy $engine.extraArgs -}}
{{- $_ := set $kwargs "max_model_len" (int $engine.maxModelLen) -}}
{{- $_ := set $kwargs "tensor_parallel_size" (int $engine.tensorParallelSize) -}}
{{- $_ := set $kwargs "gpu_memory_utilization" $engine.gpuMemoryUtilization -}}
{{- $_ := set $kwargs "tool_call_parser" $engine.toolCallParser -}}
{{- $_ := set $kwargs "enable_auto_tool_choice" $engine.enableAutoToolChoice -}}
{{- with $engine.attentionBackend }}{{ $_ := set $kwargs "attention_backend" . }}{{ end -}}
{{- with $engine.maxNumBatchedTokens }}{{ $_ := set $kwargs "max_num_batched_tokens" (int .) }}{{ end -}}
{{- with $engine.maxNumSeqs }}{{ $_ := set $kwargs "max_num_seqs" (int .) }}{{ end -}}
{{- with $engine.revision }}{{ $_ := set $kwargs "revision" . }}{{ $_ := set $kwargs "tokenizer_revision" . }}{{ end -}}
{{- toYaml $kwargs -}}
{{- end -}}

{{/* The Ray custom resource that places Serve's ingress replicas: only the head group offers it
(`ingressSlots` of it), every ingress replica asks for one. */}}
{{- define "gpt-oss-serving.ingressResource" -}}
gpt_oss_ingress
{{- end -}}
{{- define "gpt-oss-serving.ingressSlots" -}}
64
{{- end -}}

{{/* The serveConfigV2 document (YAML). */}}
{{- define "gpt-oss-serving.serveConfig" -}}
{{- $serve := .Values.serve -}}
{{- $llm := dict
  "model_loading_config" (dict "model_id" .Values.model.id "model_source" .Values.model.source)
  "accelerator_type" $serve.acceleratorType
  "engine_kwargs" (include "gpt-oss-serving.engineKwargs" . | fromYaml)
  "deployment_config" (dict
    "autoscaling_config" (dict
      "min_replicas" $serve.autoscaling.minReplicas
      "max_replicas" $serve.autoscaling.maxReplicas
      "target_ongoing_requests" $serve.autoscaling.targetOngoingRequests
      "upscale_delay_s" $serve.autoscaling.upscaleDelayS
      "downscale_delay_s" $serve.autoscaling.downscaleDelayS)
    "max_ongoing_requests" $serve.maxOngoingRequests
    "max_queued_requests" $serve.maxQueuedRequests
    "health_check_period_s" $serve.healthCheckPeriodS
    "health_check_timeout_s" $serve.healthCheckTimeoutS)
  "log_engine_metrics" true
-}}
{{- /* The OpenAiIngress replicas ask for no CPU (as Ray's own LLMRouter does, to sit beside the
proxy on a resource-less head) and for one slot of the custom resource only the head offers
(rayservice.yaml): they run on the head, never on a GPU worker, whose CPUs they would otherwise
take and so keep the GPU node alive when the model has scaled to zero. */ -}}
{{- $ingress := dict "ray_actor_options" (dict
  "num_cpus" 0
  "resources" (dict (include "gpt-oss-serving.ingressResource" .) 1))
-}}
{{- if $serve.lora.enabled -}}
{{- $_ := set $llm "lora_config" (dict
  "dynamic_lora_loading_path" $serve.lora.dynamicLoraLoadingPath
  "max_num_adapters_per_replica" (int $serve.lora.maxNumAdaptersPerReplica)) -}}
{{- end -}}
{{- $llmConfigs := prepend $serve.additionalLlmConfigs $llm -}}
{{- $config := dict
  "proxy_location" "EveryNode"
  "http_options" (dict "host" "0.0.0.0" "port" 8000)
  "applications" (list (dict
    "name" $serve.applicationName
    "route_prefix" "/"
    "import_path" "ray.serve.llm:build_openai_app"
    "args" (dict "llm_configs" $llmConfigs "ingress_deployment_config" $ingress)))
-}}
{{- toYaml $config -}}
{{- end -}}

{{/* Render-time checks that the schema cannot express: fail with the reason. */}}
{{- define "gpt-oss-serving.validate" -}}
{{- $types := list -}}
{{- range .Values.ray.workerGroups -}}
{{- $types = append $types .acceleratorType -}}
{{- if gt (int .minReplicas) (int .maxReplicas) -}}
{{- fail (printf "ray.workerGroups[%s]: minReplicas (%v) is above maxReplicas (%v)" .name .minReplicas .maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.serve.acceleratorType $types) -}}
{{- fail (printf "serve.acceleratorType %s is not the acceleratorType of any ray.workerGroups item (%s): no worker pod could host a replica" .Values.serve.acceleratorType (join ", " $types)) -}}
{{- end -}}
{{- $seqs := int .Values.serve.engine.maxNumSeqs -}}
{{- if and $seqs (gt (int .Values.serve.maxOngoingRequests) $seqs) -}}
{{- fail (printf "serve.maxOngoingRequests (%v) is above serve.engine.maxNumSeqs (%v): the extra requests would wait inside vLLM, where Ray Serve cannot see them, instead of getting Serve's 503" .Values.serve.maxOngoingRequests $seqs) -}}
{{- end -}}
{{- $tp := int .Values.serve.engine.tensorParallelSize -}}
{{- range .Values.ray.workerGroups -}}
{{- if and (eq .acceleratorType $.Values.serve.acceleratorType) (ne (int .gpus) $tp) -}}
{{- fail (printf "ray.workerGroups[%s].gpus (%v) must equal serve.engine.tensorParallelSize (%v): one worker pod hosts one replica" .name .gpus $tp) -}}
{{- end -}}
{{- if and (eq .acceleratorType $.Values.serve.acceleratorType) (lt (int .maxReplicas) (int $.Values.serve.autoscaling.maxReplicas)) -}}
{{- fail (printf "ray.workerGroups[%s].maxReplicas (%v) is below serve.autoscaling.maxReplicas (%v): Serve could ask for replicas no pod can host" .name .maxReplicas $.Values.serve.autoscaling.maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- if gt (int .Values.serve.autoscaling.minReplicas) (int .Values.serve.autoscaling.maxReplicas) -}}
{{- fail (printf "serve.autoscaling.minReplicas (%v) is above maxReplicas (%v)" .Values.serve.autoscaling.minReplicas .Values.serve.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and .Values.rayService.gcsFaultTolerance.enabled (not .Values.rayService.gcsFaultTolerance.redisAddress) -}}
{{- fail "rayService.gcsFaultTolerance.redisAddress is required when gcsFaultTolerance.enabled is true" -}}
{{- end -}}
{{- if and (eq .Values.rayService.upgradeStrategy.type "NewClusterWithIncrementalUpgrade") (not .Values.rayService.upgradeStrategy.clusterUpgradeOptions.gatewayClassName) -}}
{{- fail "rayService.upgradeStrategy.clusterUpgradeOptions.gatewayClassName is required with NewClusterWithIncrementalUpgrade (it routes traffic through Gateway API)" -}}
{{- end -}}
{{- if and .Values.gateway.enabled (not .Values.gateway.settings) -}}
{{- fail "gateway.settings is empty: produce the values with `gpt-oss-platform values` (infra/gateway_settings.py)" -}}
{{- end -}}
{{- if and .Values.gateway.enabled (not .Values.gateway.image.tag) (not .Values.gateway.image.digest) -}}
{{- fail "gateway.image: set digest (sha256:..., what CI recorded in the release pins) or tag" -}}
{{- end -}}
{{- if and .Values.gateway.ingress.enabled (not .Values.gateway.ingress.certificateArn) -}}
{{- fail "gateway.ingress.certificateArn is required when gateway.ingress.enabled is true: the load balancer terminates TLS" -}}
{{- end -}}
{{- end -}}

{{/* AWS tag list for a load balancer annotation: k1=v1,k2=v2 in key order. */}}
{{- define "gpt-oss-serving.tagList" -}}
{{- $pairs := list -}}
{{- range $key := keys . | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (index $ $key)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
