// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    attachments (id) {
        id -> Uuid,
        session_id -> Uuid,
        uploaded_by -> Uuid,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        storage_key -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    bots (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> Uuid,
        owner_id -> Nullable<Uuid>,
        shortcut -> Text,
        title -> Text,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    chat_sessions (id) {
        id -> Uuid,
        number -> Int8,
        visitor_id -> Uuid,
        specialist_id -> Nullable<Uuid>,
        created_by_bot_id -> Nullable<Uuid>,
        idempotency_key -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        intent -> Nullable<Text>,
        language -> Nullable<Text>,
        skills -> Array<Text>,
        page_url -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        queued_at -> Timestamptz,
        assigned_at -> Nullable<Timestamptz>,
        first_response_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        ended_by -> Nullable<Text>,
        ended_by_id -> Nullable<Uuid>,
        end_reason -> Nullable<Text>,
        last_seq -> Int4,
        rating -> Nullable<Int2>,
        feedback -> Nullable<Text>,
        rated_at -> Nullable<Timestamptz>,
        archived_at -> Nullable<Timestamptz>,
        owner_node -> Nullable<Text>,
        owner_epoch -> Int8,
        callback_requested -> Bool,
        left_message_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        session_id -> Uuid,
        seq -> Int4,
        sender_type -> Text,
        sender_id -> Nullable<Uuid>,
        kind -> Text,
        body -> Text,
        attachment_id -> Nullable<Uuid>,
        client_msg_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    read_cursors (session_id, reader_type, reader_id) {
        session_id -> Uuid,
        reader_type -> Text,
        reader_id -> Uuid,
        seq -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    search_chunks (session_id, last_seq) {
        session_id -> Uuid,
        first_seq -> Int4,
        last_seq -> Int4,
        document -> Tsvector,
        documents -> Text,
    }
}

diesel::table! {
    scheduled_messages (id) {
        id -> Uuid,
        session_id -> Uuid,
        specialist_id -> Uuid,
        body -> Text,
        attachment_id -> Nullable<Uuid>,
        client_msg_id -> Text,
        send_at -> Timestamptz,
        state -> Text,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        message_seq -> Nullable<Int4>,
    }
}

diesel::table! {
    session_events (id) {
        id -> Int8,
        session_id -> Uuid,
        event -> Text,
        actor_type -> Nullable<Text>,
        actor_id -> Nullable<Uuid>,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    session_specialists (specialist_id, session_id) {
        specialist_id -> Uuid,
        session_id -> Uuid,
        assigned_at -> Timestamptz,
    }
}

diesel::table! {
    session_tags (session_id, tag) {
        session_id -> Uuid,
        tag -> Text,
    }
}

diesel::table! {
    setup_links (token_sha256) {
        token_sha256 -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    specialists (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        skills -> Array<Text>,
        languages -> Array<Text>,
        max_concurrent_chats -> Int4,
        created_at -> Timestamptz,
        last_seen_at -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    visitors (id) {
        id -> Uuid,
        external_id -> Nullable<Text>,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        created_at -> Timestamptz,
        bot_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        webhook_id -> Uuid,
        event_id -> Uuid,
        event -> Text,
        attempt -> Int4,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (webhook_id, event_id) {
        webhook_id -> Uuid,
        event_id -> Uuid,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        gave_up_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_outbox (id) {
        id -> Uuid,
        event -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
        fanned_out_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        events -> Array<Text>,
        secret -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(attachments -> chat_sessions (session_id));
diesel::joinable!(canned_responses -> specialists (owner_id));
diesel::joinable!(chat_sessions -> bots (created_by_bot_id));
diesel::joinable!(chat_sessions -> specialists (specialist_id));
diesel::joinable!(chat_sessions -> visitors (visitor_id));
diesel::joinable!(messages -> attachments (attachment_id));
diesel::joinable!(read_cursors -> chat_sessions (session_id));
diesel::joinable!(scheduled_messages -> attachments (attachment_id));
diesel::joinable!(scheduled_messages -> chat_sessions (session_id));
diesel::joinable!(scheduled_messages -> specialists (specialist_id));
diesel::joinable!(session_events -> chat_sessions (session_id));
diesel::joinable!(session_specialists -> chat_sessions (session_id));
diesel::joinable!(session_specialists -> specialists (specialist_id));
diesel::joinable!(session_tags -> chat_sessions (session_id));
diesel::joinable!(visitors -> bots (bot_id));
diesel::joinable!(webhook_attempts -> webhook_outbox (event_id));
diesel::joinable!(webhook_attempts -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> webhook_outbox (event_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhooks -> specialists (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    attachments,
    bots,
    canned_responses,
    chat_sessions,
    messages,
    read_cursors,
    scheduled_messages,
    search_chunks,
    session_events,
    session_specialists,
    session_tags,
    setup_links,
    specialists,
    visitors,
    webhook_attempts,
    webhook_deliveries,
    webhook_outbox,
    webhooks,
);
