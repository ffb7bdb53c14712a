// @generated automatically by Diesel CLI.

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
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        tier -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(clients -> organizations (org_id));

diesel::allow_tables_to_appear_in_same_query!(clients, organizations,);
