-- The schema release eadd1d6 created with create_all (postgresql), captured from its models:
-- git archive eadd1d6 voice_agent connectors, then CreateTable/CreateIndex of its metadata.
CREATE TABLE api_token (
	id VARCHAR NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	role VARCHAR(20) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	revoked_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	UNIQUE (token_hash)
);
CREATE TABLE audit_log (
	id VARCHAR NOT NULL, 
	actor VARCHAR(100) NOT NULL, 
	action VARCHAR(50) NOT NULL, 
	target VARCHAR(200) NOT NULL, 
	detail JSON, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_audit_log_actor ON audit_log (actor);
CREATE INDEX ix_audit_log_target ON audit_log (target);
CREATE TABLE cal_appointment (
	id VARCHAR(36) NOT NULL, 
	business VARCHAR(100) NOT NULL, 
	service VARCHAR(100) NOT NULL, 
	staff VARCHAR(200) NOT NULL, 
	start_utc TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	end_utc TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	phone VARCHAR(50) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	idempotency_key VARCHAR(200), 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cal_appointment_idempotency UNIQUE (business, idempotency_key)
);
CREATE INDEX ix_cal_appointment_business ON cal_appointment (business);
CREATE INDEX ix_cal_appointment_phone ON cal_appointment (phone);
CREATE INDEX ix_cal_appointment_start_utc ON cal_appointment (start_utc);
CREATE TABLE call (
	id VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	provider_call_id VARCHAR, 
	stream_id VARCHAR, 
	business VARCHAR NOT NULL, 
	caller_phone VARCHAR, 
	caller_attestation VARCHAR, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	ended_at TIMESTAMP WITH TIME ZONE, 
	status VARCHAR NOT NULL, 
	end_reason VARCHAR, 
	outcome VARCHAR, 
	recording_path VARCHAR, 
	prompt_version VARCHAR, 
	clock_now TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_call_business ON call (business);
CREATE INDEX ix_call_provider_call_id ON call (provider_call_id);
CREATE TABLE connector_config (
	id VARCHAR NOT NULL, 
	business VARCHAR(100) NOT NULL, 
	kind VARCHAR(50) NOT NULL, 
	settings JSON, 
	secrets_encrypted VARCHAR, 
	secret_names JSON, 
	version INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_by VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (business)
);
CREATE TABLE booking_intent (
	id VARCHAR NOT NULL, 
	idempotency_key VARCHAR NOT NULL, 
	call_id VARCHAR, 
	business VARCHAR NOT NULL, 
	action VARCHAR NOT NULL, 
	payload JSON, 
	status VARCHAR NOT NULL, 
	booking_id VARCHAR, 
	error VARCHAR, 
	attempts INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key), 
	FOREIGN KEY(call_id) REFERENCES call (id)
);
CREATE INDEX ix_booking_intent_call_id ON booking_intent (call_id);
CREATE INDEX ix_booking_intent_status ON booking_intent (status);
CREATE TABLE cal_staff_cell (
	id SERIAL NOT NULL, 
	business VARCHAR(100) NOT NULL, 
	staff VARCHAR(200) NOT NULL, 
	cell_start_utc TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	appointment_id VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_cal_staff_cell UNIQUE (business, staff, cell_start_utc), 
	FOREIGN KEY(appointment_id) REFERENCES cal_appointment (id) ON DELETE CASCADE
);
CREATE INDEX ix_cal_staff_cell_appointment_id ON cal_staff_cell (appointment_id);
CREATE TABLE turn (
	id VARCHAR NOT NULL, 
	call_id VARCHAR NOT NULL, 
	index INTEGER NOT NULL, 
	caller_text VARCHAR, 
	stt_avg_logprob FLOAT, 
	stt_no_speech_prob FLOAT, 
	agent_text VARCHAR, 
	llm_messages JSON, 
	tool_calls JSON, 
	policy_events JSON, 
	prompt_hash VARCHAR, 
	speech_end_ts FLOAT, 
	stt_done_ts FLOAT, 
	turn_end_ts FLOAT, 
	llm_first_token_ts FLOAT, 
	tts_first_audio_ts FLOAT, 
	first_audio_sent_ts FLOAT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (call_id, index), 
	FOREIGN KEY(call_id) REFERENCES call (id)
);
CREATE INDEX ix_turn_call_id ON turn (call_id);
CREATE TABLE review_item (
	id VARCHAR NOT NULL, 
	call_id VARCHAR, 
	intent_id VARCHAR NOT NULL, 
	business VARCHAR(100) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	reason VARCHAR(500) NOT NULL, 
	confidence JSON, 
	decided_by VARCHAR, 
	decided_at TIMESTAMP WITH TIME ZONE, 
	decision_note VARCHAR, 
	booking_id VARCHAR, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(call_id) REFERENCES call (id), 
	UNIQUE (intent_id), 
	FOREIGN KEY(intent_id) REFERENCES booking_intent (id)
);
CREATE INDEX ix_review_item_business ON review_item (business);
CREATE INDEX ix_review_item_call_id ON review_item (call_id);
CREATE INDEX ix_review_item_created_at ON review_item (created_at);
CREATE INDEX ix_review_item_status ON review_item (status);
