{{- define "va.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "va.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "va.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "va.labels" -}}
app.kubernetes.io/name: {{ include "va.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "va.selector" -}}
app.kubernetes.io/name: {{ include "va.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "va.llmBaseUrl" -}}
{{- if .Values.vllm.enabled -}}
{{- printf "http://%s-vllm:8000/v1" (include "va.fullname" .) -}}
{{- else -}}
{{- .Values.llm.baseUrl -}}
{{- end -}}
{{- end -}}

{{/* Env of the agent and of the migration job: only real settings (voice_agent/config.py). */}}
{{- define "va.secretEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.existingSecret }}, key: {{ .Values.secretKeys.databaseUrl }}}
- name: VOICE_AGENT_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.existingSecret }}, key: {{ .Values.secretKeys.secretKey }}}
- name: TWILIO_ACCOUNT_SID
  valueFrom:
    secretKeyRef: {name: {{ .Values.existingSecret }}, key: {{ .Values.secretKeys.twilioAccountSid }}}
- name: TWILIO_AUTH_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ .Values.existingSecret }}, key: {{ .Values.secretKeys.twilioAuthToken }}}
{{- if .Values.secretKeys.llmApiKey }}
- name: LLM_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.existingSecret }}, key: {{ .Values.secretKeys.llmApiKey }}}
{{- end }}
- name: VOICE_AGENT_ENV
  value: {{ .Values.agent.env | quote }}
{{- end -}}

{{- define "va.agentEnv" -}}
{{ include "va.secretEnv" . }}
- name: VOICE_AGENT_HOST
  value: "0.0.0.0"
- name: VOICE_AGENT_PORT
  value: "8080"
- name: VOICE_AGENT_PUBLIC_URL
  value: {{ .Values.agent.publicUrl | quote }}
- name: VOICE_AGENT_DEFAULT_BUSINESS
  value: {{ .Values.agent.defaultBusiness | quote }}
- name: VOICE_AGENT_DATA_DIR
  value: /var/lib/voice-agent
- name: VOICE_AGENT_MODELS_DIR
  value: /opt/voice-agent/models
- name: VOICE_AGENT_MAX_CALL_SECONDS
  value: {{ .Values.agent.maxCallSeconds | quote }}
- name: VOICE_AGENT_DRAIN_DEADLINE_S
  value: {{ .Values.agent.drainDeadlineSeconds | quote }}
{{- with (include "va.llmBaseUrl" .) }}
- name: LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
- name: LLM_MODEL
  value: {{ .Values.llm.model | quote }}
- name: VOICE_AGENT_LLM_READING
  value: {{ .Values.agent.llmReading | quote }}
- name: VOICE_AGENT_LLM_SCHEMA_MODE
  value: {{ .Values.agent.llmSchemaMode | quote }}
{{- if .Values.tts.enabled }}
- name: TTS_BASE_URL
  value: {{ printf "http://%s-tts:%v" (include "va.fullname" .) .Values.tts.port | quote }}
{{- end }}
- name: VOICE_AGENT_STT_DEVICE
  value: {{ .Values.agent.stt.device | quote }}
- name: VOICE_AGENT_STT_COMPUTE_TYPE
  value: {{ .Values.agent.stt.computeType | quote }}
- name: VOICE_AGENT_STT_CPU_THREADS
  value: {{ .Values.agent.stt.cpuThreads | quote }}
{{- if .Values.sip.enabled }}
- name: VOICE_AGENT_SIP_ENABLED
  value: "true"
- name: VOICE_AGENT_SIP_HOST
  value: "0.0.0.0"
- name: VOICE_AGENT_SIP_PORT
  value: {{ .Values.sip.sipPort | quote }}
- name: VOICE_AGENT_SIP_TCP
  value: "false"
- name: VOICE_AGENT_SIP_RTP_PORT_MIN
  value: {{ .Values.sip.rtpPortStart | quote }}
- name: VOICE_AGENT_SIP_RTP_PORT_MAX
  value: {{ add .Values.sip.rtpPortStart .Values.sip.rtpPortCount | quote }}
- name: VOICE_AGENT_SIP_ALLOWED_PEERS
  value: {{ .Values.sip.allowedPeers | quote }}
{{- with .Values.sip.advertisedHost }}
- name: VOICE_AGENT_SIP_ADVERTISED_HOST
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .Values.agent.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
