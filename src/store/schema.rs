// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        environment -> Text,
        key_hash -> Text,
        last_four -> Text,
        scopes -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        replaced_by -> Nullable<Text>,
        rate_limit_per_minute -> Nullable<Int8>,
    }
}

diesel::table! {
    api_key_policies (org_id) {
        org_id -> Text,
        max_lifetime_secs -> Nullable<Int8>,
        expiry_required -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        org_id -> Text,
        event_type -> Text,
        actor -> Text,
        target_type -> Text,
        target_id -> Text,
        source_ip -> Nullable<Text>,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        org_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Text,
        scope -> Text,
        resource -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        family_id -> Nullable<Text>,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        secret_hash -> Text,
        grant_types -> Text,
        allowed_scopes -> Text,
        default_scopes -> Text,
        audience -> Nullable<Text>,
        access_token_ttl_secs -> Nullable<Int8>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        refresh_reuse_grace_secs -> Int8,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        registration_token_hash -> Nullable<Text>,
        rate_limit_per_minute -> Nullable<Int8>,
        secret_hint -> Nullable<Text>,
        previous_secret_hint -> Nullable<Text>,
        secret_expires_at -> Nullable<Timestamp>,
        token_endpoint_auth_method -> Nullable<Text>,
        audiences -> Nullable<Text>,
        redirect_uris -> Text,
    }
}

diesel::table! {
    memberships (user_id, org_id) {
        user_id -> Text,
        org_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_consents (user_id, org_id, client_id) {
        user_id -> Text,
        org_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        tier -> Text,
        created_at -> Timestamp,
        second_factor_required -> Bool,
    }
}

diesel::table! {
    refresh_families (id) {
        id -> Text,
        client_id -> Text,
        org_id -> Text,
        scope -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
        resource -> Nullable<Text>,
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        idle_expires_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
        successor_id -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        client_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    token_counters (client_id, minute, outcome) {
        client_id -> Text,
        minute -> Timestamp,
        outcome -> Text,
        org_id -> Text,
        requests -> Int8,
    }
}

diesel::table! {
    usage_counters (subject_id, minute, status_class) {
        subject_id -> Text,
        minute -> Timestamp,
        status_class -> Text,
        org_id -> Text,
        requests -> Int8,
    }
}

diesel::table! {
    user_recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        org_id -> Text,
        csrf_token_hash -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        source_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        second_factor_pending -> Bool,
    }
}

diesel::table! {
    user_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        email_lower -> Text,
        display_name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        password_changed_at -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_pending_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::joinable!(api_key_policies -> organizations (org_id));
diesel::joinable!(api_keys -> organizations (org_id));
diesel::joinable!(authorization_codes -> clients (client_id));
diesel::joinable!(authorization_codes -> organizations (org_id));
diesel::joinable!(authorization_codes -> users (user_id));
diesel::joinable!(clients -> organizations (org_id));
diesel::joinable!(refresh_families -> clients (client_id));
diesel::joinable!(refresh_families -> users (user_id));
diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(oauth_consents -> clients (client_id));
diesel::joinable!(oauth_consents -> organizations (org_id));
diesel::joinable!(oauth_consents -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::joinable!(user_recovery_codes -> users (user_id));
diesel::joinable!(user_sessions -> organizations (org_id));
diesel::joinable!(user_sessions -> users (user_id));
diesel::joinable!(user_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_key_policies,
    api_keys,
    audit_events,
    authorization_codes,
    clients,
    memberships,
    oauth_consents,
    organizations,
    refresh_families,
    refresh_tokens,
    revoked_access_tokens,
    token_counters,
    usage_counters,
    user_recovery_codes,
    user_sessions,
    user_tokens,
    users,
);
