// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (name) {
        name -> Text,
        role -> Text,
        token_sha256 -> Text,
        created_at -> Text,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    credit_breakdowns (sha256) {
        sha256 -> Text,
        body -> Text,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Text,
        email -> Nullable<Text>,
        timezone -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    entry_references (entry_id) {
        entry_id -> BigInt,
        customer_id -> Text,
        reference -> Text,
    }
}

diesel::table! {
    export_acknowledgements (export_id) {
        export_id -> BigInt,
        reference -> Text,
        created_at -> Text,
        created_by -> Text,
    }
}

diesel::table! {
    export_batches (id) {
        id -> BigInt,
        rows -> BigInt,
        sha256 -> Text,
        created_at -> Text,
        created_by -> Text,
    }
}

diesel::table! {
    export_ranges (export_id) {
        export_id -> BigInt,
        after_entry_id -> BigInt,
        last_entry_id -> BigInt,
    }
}

diesel::table! {
    export_totals (export_id, currency) {
        export_id -> BigInt,
        currency -> Text,
        amount_minor -> BigInt,
        minor_units -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (owner, key) {
        owner -> Text,
        key -> Text,
        fingerprint -> Text,
        state -> Text,
        lease_until -> Text,
        status -> Nullable<BigInt>,
        headers -> Nullable<Text>,
        body -> Nullable<Binary>,
        created_at -> Text,
    }
}

diesel::table! {
    imports (id) {
        id -> BigInt,
        kind -> Text,
        sha256 -> Text,
        rows -> BigInt,
        created_at -> Text,
        created_by -> Text,
    }
}

diesel::table! {
    incident_customers (incident_id, customer_id) {
        incident_id -> Text,
        customer_id -> Text,
    }
}

diesel::table! {
    incident_plans (incident_id, plan_id) {
        incident_id -> Text,
        plan_id -> Text,
    }
}

diesel::table! {
    incidents (id) {
        id -> Text,
        title -> Text,
        kind -> Text,
        started_at -> Text,
        ended_at -> Nullable<Text>,
        impact -> Text,
        summary -> Nullable<Text>,
        scope -> Text,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        kind -> Text,
        customer_id -> Text,
        period -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        minor_units -> BigInt,
        incident_ids -> Text,
        reason -> Nullable<Text>,
        created_at -> Text,
        created_by -> Text,
        reverses -> Nullable<BigInt>,
        plan_id -> Nullable<Text>,
        policy_version -> Nullable<BigInt>,
        rounding -> Nullable<Text>,
        explanation -> Text,
        breakdown_sha256 -> Nullable<Text>,
        as_of -> Nullable<Text>,
        tzdb_version -> Text,
        engine_version -> Text,
        customer_name -> Nullable<Text>,
        settlement_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    plan_changes (customer_id, effective_at) {
        customer_id -> Text,
        effective_at -> Text,
        plan_id -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    plan_versions (plan_id, version) {
        plan_id -> Text,
        version -> BigInt,
        name -> Text,
        price -> Text,
        billing_cycle -> Text,
        annual_split -> Text,
        policy -> Text,
        effective_at -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    plans (id) {
        id -> Text,
        currency -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    settlement_lines (settlement_id, customer_id, period) {
        settlement_id -> BigInt,
        customer_id -> Text,
        period -> Text,
        currency -> Text,
        minor_units -> BigInt,
        target_minor -> BigInt,
        booked_minor -> BigInt,
        delta_minor -> BigInt,
        entry_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    settlement_results (settlement_id) {
        settlement_id -> BigInt,
        customers -> BigInt,
        periods -> BigInt,
        entries_appended -> BigInt,
        finished_at -> Text,
    }
}

diesel::table! {
    settlement_totals (settlement_id, currency) {
        settlement_id -> BigInt,
        currency -> Text,
        minor_units -> BigInt,
        amount_minor -> BigInt,
    }
}

diesel::table! {
    settlements (id) {
        id -> BigInt,
        incident_id -> Text,
        created_at -> Text,
        created_by -> Text,
        as_of -> Text,
        tzdb_version -> Text,
        engine_version -> Text,
    }
}

diesel::joinable!(entry_references -> ledger_entries (entry_id));
diesel::joinable!(export_acknowledgements -> export_batches (export_id));
diesel::joinable!(export_ranges -> export_batches (export_id));
diesel::joinable!(export_totals -> export_batches (export_id));
diesel::joinable!(incident_customers -> customers (customer_id));
diesel::joinable!(incident_customers -> incidents (incident_id));
diesel::joinable!(incident_plans -> incidents (incident_id));
diesel::joinable!(incident_plans -> plans (plan_id));
diesel::joinable!(ledger_entries -> credit_breakdowns (breakdown_sha256));
diesel::joinable!(ledger_entries -> customers (customer_id));
diesel::joinable!(plan_changes -> customers (customer_id));
diesel::joinable!(plan_changes -> plans (plan_id));
diesel::joinable!(plan_versions -> plans (plan_id));
diesel::joinable!(settlement_lines -> ledger_entries (entry_id));
diesel::joinable!(settlement_lines -> settlements (settlement_id));
diesel::joinable!(settlement_results -> settlements (settlement_id));
diesel::joinable!(settlement_totals -> settlements (settlement_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    credit_breakdowns,
    customers,
    entry_references,
    export_acknowledgements,
    export_batches,
    export_ranges,
    export_totals,
    idempotency_keys,
    imports,
    incident_customers,
    incident_plans,
    incidents,
    ledger_entries,
    plan_changes,
    plan_versions,
    plans,
    settlement_lines,
    settlement_results,
    settlement_totals,
    settlements,
);
